"""Cancel and the time budget after training (runtime choice, evaluation), and the stalled-job sweep.

The worker's pipeline runs in-process here with a stand-in training session and a slow stand-in
predictor, so these tests need no worker and no model, and run in seconds.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from inference.engine.evaluation import EVAL_CHUNK
from inference.engine.training.plan import TrainingPlan
from inference.engine.types import Example
from inference.models import TrainingJob
from inference.services import pipeline
from inference.services.training import training_job_cancel
from tests.api.factories import dataset_with_version

TEST_TEXTS = EVAL_CHUNK * 8
SECONDS_PER_TEXT = 0.002  # the whole test split would take about 4 s; one chunk about 0.5 s


class _FakeSession:
    """Trains nothing: one progress step, then a "trained" model with two labels."""

    def __init__(self, examples, **kwargs):
        self.plan = TrainingPlan(method="head", reason="a stand-in for the test", hyperparameters={})
        self.train = [ex for ex in examples if ex.split == "train"]
        self.validation = [ex for ex in examples if ex.split == "validation"]
        self.trained = None

    def run(self):
        yield {"phase": "training", "loss": 0.5}
        self.trained = SimpleNamespace(labels=["neg", "pos"], train_info={})
        yield {"phase": "done", "loss": 0.5}


class _SlowPredictor:
    """Takes SECONDS_PER_TEXT per text; ``on_first_call`` runs when evaluation starts."""

    runtime = "torch"

    def __init__(self, on_first_call=None):
        self.texts, self.on_first_call = 0, on_first_call

    def predict(self, texts, top_k=None):
        if self.texts == 0 and self.on_first_call:
            self.on_first_call()
        self.texts += len(texts)
        time.sleep(SECONDS_PER_TEXT * len(texts))
        return [{"label": "pos", "score": 0.9, "labels": [{"label": "pos", "score": 0.9}]} for _ in texts]


def _examples(version):
    rows = [Example(text=f"train {i}", label=["neg", "pos"][i % 2], split="train") for i in range(4)]
    rows.append(Example(text="validation", label="pos", split="validation"))
    rows += [Example(text=f"test {i}", label="pos", split="test") for i in range(TEST_TEXTS)]
    return rows


@pytest.fixture
def claimed_job(tenant_a, monkeypatch):
    """A running job of tenant A whose training is a stand-in; evaluation runs for real on a slow predictor."""
    connection.set_tenant(tenant_a)
    version = dataset_with_version("stop-data")
    job = TrainingJob.objects.create(
        dataset_version=version, model_name="stopper", base_model_id="minilm-l6", method="head"
    )
    assert pipeline.training_job_claim(job.pk)
    monkeypatch.setattr(pipeline, "TrainingSession", _FakeSession)
    monkeypatch.setattr(pipeline, "dataset_version_to_examples", _examples)
    return job


def _serve_with(monkeypatch, predictor) -> dict:
    seen: dict = {}

    def choose_runtime(trained, directory, validation_texts, *, check_stop=None, **kwargs):
        seen["check_stop"] = check_stop
        return predictor, {"name": "torch", "reason": "a stand-in for the test"}

    monkeypatch.setattr(pipeline.onnx_export, "choose_runtime", choose_runtime)
    return seen


def test_a_cancel_requested_during_evaluation_ends_the_job_cancelled_within_a_chunk(claimed_job, monkeypatch):
    predictor = _SlowPredictor(
        on_first_call=lambda: training_job_cancel(job=TrainingJob.objects.get(pk=claimed_job.pk))
    )
    seen = _serve_with(monkeypatch, predictor)
    started = time.monotonic()
    pipeline.run_training_job(claimed_job.pk)
    elapsed = time.monotonic() - started

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "cancelled" and job.error_code == "cancelled"
    assert job.model_version is None and job.finished_at is not None
    # Stopped after the chunk that was running when the user cancelled, not at the end of the split.
    assert predictor.texts <= 2 * EVAL_CHUNK
    assert elapsed < TEST_TEXTS * SECONDS_PER_TEXT
    assert callable(seen["check_stop"])  # the runtime choice (export, agreement) is stoppable too


def test_the_time_budget_ends_a_job_during_evaluation(claimed_job, monkeypatch):
    # Half a second of the budget is left when evaluation starts; one chunk takes longer.
    TrainingJob.objects.filter(pk=claimed_job.pk).update(
        time_budget_seconds=60, started_at=timezone.now() - timezone.timedelta(seconds=59.5)
    )
    predictor = _SlowPredictor()
    _serve_with(monkeypatch, predictor)
    pipeline.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "failed" and job.error_code == "time_budget_exceeded"
    assert "time budget of 60 seconds" in job.error
    assert predictor.texts <= 2 * EVAL_CHUNK


def test_the_sweep_cancels_a_stalled_job_whose_cancel_was_requested(
    tenant_a, django_capture_on_commit_callbacks
):
    connection.set_tenant(tenant_a)
    version = dataset_with_version("stalled-data")
    job = TrainingJob.objects.create(
        dataset_version=version, model_name="m", base_model_id="minilm-l6", status="running",
        attempts=1, worker="w1", cancel_requested=True,
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as enqueued:
        assert pipeline.recover_stalled_jobs() == [(job.pk, "cancelled")]
    assert enqueued == []  # not trained again
    job.refresh_from_db()
    assert job.status == "cancelled" and job.error_code == "cancelled" and job.finished_at is not None
    assert "Cancelled by a user" in job.error
    assert job.events.filter(message__contains="worker stopped").exists()
