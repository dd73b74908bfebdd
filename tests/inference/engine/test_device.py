"""Training devices: resolving auto/cpu/cuda, the refusal when CUDA is absent, and a CPU run left as it was."""

from __future__ import annotations

import contextlib
import csv
import hashlib

import pytest
import torch

from inference.engine.basemodels import default_base_model_dir
from inference.engine.device import CPU, DeviceUnavailable, parse_device, resolve_device
from inference.engine.training import TrainingSession
from inference.engine.training.plan import GPU_BATCH_SIZE, default_hyperparameters
from inference.engine.types import Example
from tests.support import shared_dataset


def bank_examples(labels: int = 4, per_label: int = 12) -> tuple[list[Example], list[str]]:
    """``per_label`` banking77 examples of the first ``labels`` intents, 8 to train and 4 to validate each."""
    with open(shared_dataset("banking77/train.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["category"] for r in rows})[:labels]
    out = []
    for name in names:
        texts = [r["text"] for r in rows if r["category"] == name][:per_label]
        out += [
            Example(text=t, label=name, split="train" if i < 8 else "validation") for i, t in enumerate(texts)
        ]
    return out, names


def session_on(examples, labels, device=None, *, method="full", hyperparameters=None) -> TrainingSession:
    """A classification session; ``device`` None leaves the engine's default."""
    return TrainingSession(
        examples,
        task="classification",
        labels=labels,
        base_model_dir=default_base_model_dir(),
        method=method,
        hyperparameters=hyperparameters or {"epochs": 1},
        **({} if device is None else {"device": device}),
    )


def _no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def _fake_cuda(monkeypatch, *, count: int = 1, bf16: bool = True):
    """torch reports ``count`` CUDA devices (nothing is ever run on them in these tests)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "NVIDIA Test 80GB")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("auto", "auto"), ("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:1", "cuda:1"), ("Cuda:0", "cuda:0")],
)
def test_device_names_are_normalised(spec, expected):
    assert parse_device(spec) == expected


@pytest.mark.parametrize("spec", ["gpu", "cuda:", "cuda:x", "mps", "", "cpu:0"])
def test_an_unknown_device_name_lists_the_choices(spec):
    with pytest.raises(ValueError, match=r"auto, cpu, cuda or cuda:N"):
        parse_device(spec)


def test_auto_and_cpu_resolve_to_the_cpu_on_a_machine_without_cuda(monkeypatch):
    _no_cuda(monkeypatch)
    assert resolve_device("auto") is CPU
    assert resolve_device("cpu") is CPU
    assert CPU.describe() == "cpu (fp32)"
    assert CPU.as_dict() == {"device": "cpu", "device_name": "cpu", "precision": "fp32"}


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_asked_for_on_a_machine_without_it_is_refused_with_what_to_do(monkeypatch, spec):
    _no_cuda(monkeypatch)
    with pytest.raises(DeviceUnavailable) as caught:
        resolve_device(spec)
    message = str(caught.value)
    index = spec.partition(":")[2] or "0"
    assert message.startswith(
        f"This worker was asked to train on cuda:{index} but this machine has no CUDA device"
    )
    assert "Train on the CPU (device 'cpu' or 'auto')" in message
    assert isinstance(caught.value, ValueError), "callers that report ValueErrors show it as it is"


def test_cuda_resolves_with_bf16_where_the_card_has_it_and_fp16_with_a_scaler_elsewhere(monkeypatch):
    _fake_cuda(monkeypatch, count=2, bf16=True)
    for spec, label in (("auto", "cuda:0"), ("cuda", "cuda:0"), ("cuda:1", "cuda:1")):
        dev = resolve_device(spec)
        assert dev.is_cuda and dev.label == label and dev.precision == "bf16"
        assert dev.grad_scaler() is None
    assert resolve_device("cuda:1").describe() == "cuda:1 (NVIDIA Test 80GB, bf16 autocast)"
    with pytest.raises(DeviceUnavailable, match=r"has only 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")
    _fake_cuda(monkeypatch, count=1, bf16=False)
    assert resolve_device("cuda").precision == "fp16"


def test_on_the_cpu_the_helpers_change_nothing():
    t = torch.ones(3)
    assert CPU.put(t) is t and CPU.host(t) is t
    assert CPU.grad_scaler() is None
    assert isinstance(CPU.autocast(), contextlib.nullcontext)


def test_the_gpu_plan_takes_a_bigger_batch_and_sqrt_scaled_rates_and_the_same_epochs():
    args = ("full", "classification", 8000, [20] * 8000, 1.0)
    cpu, gpu = default_hyperparameters(*args), default_hyperparameters(*args, gpu=True)
    assert cpu["batch_size"] == 32 and gpu["batch_size"] == GPU_BATCH_SIZE == 128
    assert gpu["learning_rate"] == pytest.approx(cpu["learning_rate"] * 2)
    assert gpu["head_learning_rate"] == pytest.approx(cpu["head_learning_rate"] * 2)
    assert gpu["epochs"] == cpu["epochs"] == 3
    assert {
        k: v for k, v in gpu.items() if k not in ("batch_size", "learning_rate", "head_learning_rate")
    } == {k: v for k, v in cpu.items() if k not in ("batch_size", "learning_rate", "head_learning_rate")}
    head = ("head", "classification", 40, [20] * 40, 1.0)
    assert default_hyperparameters(*head, gpu=True) == default_hyperparameters(*head)


def test_the_plan_records_the_device_and_a_cuda_session_is_refused_before_loading_anything(monkeypatch):
    examples, labels = bank_examples()
    session = session_on(examples, labels)
    assert session.plan.device == {"device": "cpu", "device_name": "cpu", "precision": "fp32"}
    assert session.plan.as_dict()["device"]["device"] == "cpu"
    assert session.plan.device_summary() == "cpu, fp32; batch 32, learning rate 0.0001 (head 0.001)"

    _no_cuda(monkeypatch)
    loaded = []
    monkeypatch.setattr("inference.engine.basemodels.load_tokenizer", lambda path: loaded.append(path))
    with pytest.raises(DeviceUnavailable, match="asked to train on cuda:0"):
        session_on(examples, labels, "cuda")
    assert loaded == [], "the refusal comes before the tokenizer (or anything else) is loaded"


def test_a_session_planned_for_a_gpu_scales_only_what_the_user_left_to_it(monkeypatch):
    examples, labels = bank_examples()
    _fake_cuda(monkeypatch)
    session = session_on(examples, labels, "cuda", method="full")
    hp = session.plan.hyperparameters
    assert (hp["batch_size"], hp["learning_rate"]) == (128, 2e-4)
    assert session.plan.device == {"device": "cuda:0", "device_name": "NVIDIA Test 80GB", "precision": "bf16"}
    assert session.plan.device_summary().startswith("cuda:0 (NVIDIA Test 80GB), bf16 autocast; batch 128")
    chosen = session_on(examples, labels, "cuda", method="full", hyperparameters={"batch_size": 16})
    assert (chosen.plan.hyperparameters["batch_size"], chosen.plan.hyperparameters["learning_rate"]) == (
        16,
        1e-4,
    )


def _weights_digest(session: TrainingSession) -> str:
    h = hashlib.sha256()
    for name, value in sorted(session.trained.model.state_dict().items()):
        h.update(name.encode())
        h.update(value.numpy().tobytes())
    return h.hexdigest()


def _forbid_gpu_machinery(monkeypatch):
    """Any autocast context, gradient scaler or pinned copy on a CPU run fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a CPU run must not use autocast, a gradient scaler or pinned memory")

    monkeypatch.setattr(torch, "autocast", refuse)
    monkeypatch.setattr(torch.amp, "GradScaler", refuse)
    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)


@pytest.mark.parametrize(
    ("method", "hp"), [("full", {"epochs": 1, "max_length": 32}), ("head", {"max_length": 32, "epochs": 5})]
)
def test_on_this_cpu_machine_cpu_and_the_default_train_the_same_weights_to_the_bit(monkeypatch, method, hp):
    examples, labels = bank_examples()
    _forbid_gpu_machinery(monkeypatch)
    digests, predictions = [], []
    for device in ("cpu", None):  # None: the engine's default (auto)
        session = session_on(examples, labels, device, method=method, hyperparameters=hp)
        list(session.run())
        assert session.trained.train_info["device"]["device"] == "cpu"
        digests.append(_weights_digest(session))
        model = session.trained.model
        ids = torch.tensor([[101, 2054, 2003, 1996, 3446, 102]])
        with torch.no_grad():
            predictions.append(model(ids, torch.ones_like(ids)))
    assert digests[0] == digests[1]
    assert torch.equal(predictions[0], predictions[1])


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_the_gpu_branches_train_and_hand_back_a_cpu_model_here_on_a_stand_in_device(monkeypatch, precision):
    """The CUDA code path (autocast, gradient scaler, copies, moving the model back) run on the CPU:
    is_cuda forced on, CPU autocast in place of CUDA's, a CPU gradient scaler for fp16."""
    from inference.engine.device import TrainingDevice

    used = {"autocast": 0, "scaler": 0}

    def autocast(self):
        used["autocast"] += 1
        return torch.autocast("cpu", dtype=torch.bfloat16)

    def grad_scaler(self):
        if self.precision != "fp16":
            return None
        used["scaler"] += 1
        return torch.amp.GradScaler("cpu")

    monkeypatch.setattr(TrainingDevice, "is_cuda", property(lambda self: True))
    monkeypatch.setattr(TrainingDevice, "autocast", autocast)
    monkeypatch.setattr(TrainingDevice, "grad_scaler", grad_scaler)
    monkeypatch.setattr(TrainingDevice, "put", lambda self, t: t.clone())
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    stand_in = TrainingDevice(device=torch.device("cpu"), name="stand-in", precision=precision)
    examples, labels = bank_examples()
    for method in ("full", "head"):
        session = session_on(
            examples,
            labels,
            stand_in,
            method=method,
            hyperparameters={"epochs": 1, "max_length": 32, "class_weighting": True},
        )
        assert session.plan.hyperparameters["batch_size"] == (128 if method == "full" else 32)
        list(session.run())
        info = session.trained.train_info
        assert info["device"] == {"device": "cpu", "device_name": "stand-in", "precision": precision}
        assert info["best_val_metric"] is not None
        assert all(
            p.device.type == "cpu" and p.dtype == torch.float32 for p in session.trained.model.parameters()
        )
    assert used["autocast"] > 0 and used["scaler"] == (1 if precision == "fp16" else 0)
