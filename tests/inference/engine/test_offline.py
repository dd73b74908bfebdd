"""Training, evaluation and serving never open an outbound network connection."""

from __future__ import annotations

import socket
from contextlib import contextmanager

import pytest

from inference.engine import artifact, basemodels, evaluation
from inference.engine.serving import loading
from inference.engine.serving.torch_predictor import predictor_from_trained
from inference.engine.training import TrainingSession
from inference.engine.types import Example

LOOPBACK = ("127.", "::1", "localhost")


class OutboundConnection(AssertionError):
    pass


@contextmanager
def no_outbound_network():
    """Refuse (and record) every connection or name lookup that leaves this machine."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo, real_create_connection = socket.getaddrinfo, socket.create_connection

    def check(address) -> None:
        if isinstance(address, tuple) and not str(address[0]).startswith(LOOPBACK):
            attempts.append(str(address))
            raise OutboundConnection(f"outbound connection to {address}")

    def connect(self, address):
        if self.family != socket.AF_UNIX:
            check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family != socket.AF_UNIX:
            check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        check((host, 0))
        return real_getaddrinfo(host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        check(address)
        return real_create_connection(address, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex
        socket.getaddrinfo, socket.create_connection = real_getaddrinfo, real_create_connection


def test_the_guard_catches_connections_and_lookups():
    import urllib.request

    with no_outbound_network() as attempts:
        with pytest.raises(OutboundConnection):
            socket.create_connection(("203.0.113.10", 443), timeout=1)
        with pytest.raises(OutboundConnection):
            urllib.request.urlopen("https://huggingface.co/api/models", timeout=1)  # noqa: S310
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with pytest.raises(OutboundConnection):
            sock.connect(("198.51.100.7", 80))
        sock.close()
    assert len(attempts) == 3


def _examples() -> list[Example]:
    phrases = {
        "refund": [
            "I want my money back",
            "please refund my order",
            "refund the charge",
            "money back please",
        ],
        "delivery": [
            "where is my parcel",
            "my package has not arrived",
            "track my delivery",
            "parcel is late",
        ],
        "password": [
            "I forgot my password",
            "reset my password",
            "cannot log in to my account",
            "change my password",
        ],
    }
    examples = []
    for label, texts in phrases.items():
        for i in range(12):
            split = "test" if i >= 10 else "validation" if i >= 8 else "train"
            examples.append(Example(text=f"{texts[i % 4]} {i}", label=label, split=split))
    return examples


@pytest.mark.parametrize("method", ["full", "head"])
def test_training_evaluation_export_and_serving_stay_offline(tmp_path, method):
    examples = _examples()
    labels = ["delivery", "password", "refund"]
    with no_outbound_network() as attempts:
        session = TrainingSession(
            examples,
            task="classification",
            labels=labels,
            base_model_dir=basemodels.default_base_model_dir(),
            method=method,
            hyperparameters={"epochs": 1},
        )
        for _ in session.run():
            pass
        predictor = predictor_from_trained(session.trained)
        test = [ex for ex in examples if ex.split == "test"]
        evaluation.evaluate(
            predictor, test, task="classification", labels=labels, train_examples=session.train
        )
        artifact.save(session.trained, str(tmp_path / "artifact"))
        loaded = loading.load(str(tmp_path / "artifact"))
        assert len(loaded.predict(["where is my parcel"])) == 1
    assert attempts == []
