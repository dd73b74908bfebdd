"""Cancel and the time budget after training (runtime choice, evaluation), the stalled-job sweep,
progress writes, heartbeats, and a run whose job was taken over.

The worker's pipeline runs in-process here with a stand-in training session and a slow stand-in
predictor, so these tests need no worker and no model, and run in seconds.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from inference.engine.evaluation import EVAL_CHUNK
from inference.engine.training.gradient import epoch_message
from inference.engine.training.plan import TrainingPlan
from inference.engine.types import Example
from inference.models import ModelVersion, TrainingJob
from inference.services.training import claim, run, sweep, training_job_cancel
from inference.services.training.heartbeat import Heartbeat
from tests.factories import TrainingJobFactory, dataset_with_version
from tests.support import wait_for

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
    job = TrainingJobFactory(dataset_version=version, model_name="stopper", method="head")
    assert claim.training_job_claim(job.pk)
    monkeypatch.setattr(run, "TrainingSession", _FakeSession)
    monkeypatch.setattr(run, "dataset_version_to_examples", _examples)
    return job


def _serve_with(monkeypatch, predictor) -> dict:
    seen: dict = {}

    def choose_runtime(trained, directory, validation_texts, *, check_stop=None, **kwargs):
        seen["check_stop"] = check_stop
        return predictor, {"name": "torch", "reason": "a stand-in for the test"}

    monkeypatch.setattr(run.runtime_choice, "choose_runtime", choose_runtime)
    return seen


def test_a_cancel_requested_during_evaluation_ends_the_job_cancelled_within_a_chunk(claimed_job, monkeypatch):
    predictor = _SlowPredictor(
        on_first_call=lambda: training_job_cancel(job=TrainingJob.objects.get(pk=claimed_job.pk))
    )
    seen = _serve_with(monkeypatch, predictor)
    started = time.monotonic()
    run.run_training_job(claimed_job.pk)
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
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "failed" and job.error_code == "time_budget_exceeded"
    assert "time budget of 60 seconds" in job.error
    assert predictor.texts <= 2 * EVAL_CHUNK


def test_the_sweep_cancels_a_stalled_job_whose_cancel_was_requested(
    tenant_a, django_capture_on_commit_callbacks
):
    connection.set_tenant(tenant_a)
    version = dataset_with_version("stalled-data")
    job = TrainingJobFactory(
        dataset_version=version, model_name="m", status="running", attempts=1, worker="w1",
        cancel_requested=True, heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as enqueued:
        assert sweep.recover_stalled_jobs() == [(job.pk, "cancelled")]
    assert enqueued == []  # not trained again
    job.refresh_from_db()
    assert job.status == "cancelled" and job.error_code == "cancelled" and job.finished_at is not None
    assert "Cancelled by a user" in job.error
    assert job.events.filter(message__contains="worker stopped").exists()


class _OneEpochSession(_FakeSession):
    """One epoch whose summary follows the previous event within a millisecond, as on a small split."""

    def run(self):
        yield {"phase": "training", "epoch": 1, "step": 1, "loss": 0.7}
        yield {"phase": "validating", "epoch": 1, "loss": 0.7, "message": "validating 1/1"}
        self.trained = SimpleNamespace(labels=["neg", "pos"], train_info={})
        summary = {"epoch": 1, "loss": 0.7, "val_metric": 0.75}
        yield {
            "phase": "validating",
            **summary,
            "message": epoch_message("classification", 1, 1, summary, best_epoch=1),
        }


def test_an_epochs_validation_score_reaches_the_job_even_right_after_another_write(claimed_job, monkeypatch):
    monkeypatch.setattr(run, "TrainingSession", _OneEpochSession)
    monkeypatch.setattr(run, "_evaluate_save_register", lambda *args: None)
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    # The evaluating phase starts from the progress last written: the epoch's summary was written.
    assert job.progress["phase"] == "evaluating"
    assert job.progress["val_metric"] == 0.75 and job.progress["epoch"] == 1


class _QuickPredictor(_SlowPredictor):
    def predict(self, texts, top_k=None):
        self.texts += len(texts)
        return [{"label": "pos", "score": 0.9, "labels": [{"label": "pos", "score": 0.9}]} for _ in texts]


@pytest.mark.parametrize("takeover", ["claimed again by another worker", "finished by another run"])
def test_a_run_that_lost_its_job_before_saving_neither_finishes_it_nor_registers_a_version(
    claimed_job, monkeypatch, takeover
):
    _serve_with(monkeypatch, _QuickPredictor())

    def save(trained, directory, **kwargs):
        # Evaluation is over; the job changes hands before this run registers its version.
        rows = TrainingJob.objects.filter(pk=claimed_job.pk)
        if takeover == "claimed again by another worker":
            rows.update(worker="other-host:7", attempts=F("attempts") + 1, progress={"phase": "training"})
        else:
            rows.update(status="succeeded", finished_at=timezone.now(), progress={"phase": "done"})
        return {"method": "head", "labels": ["neg", "pos"], "files": {}}

    monkeypatch.setattr(run.artifact, "save", save)
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert not ModelVersion.objects.exists() and job.model_version is None
    assert job.error == "" and not job.events.filter(message__startswith="Done").exists()
    if takeover == "claimed again by another worker":
        assert job.status == "running" and job.worker == "other-host:7" and job.finished_at is None
        assert job.progress == {"phase": "training"}  # the new run's progress, not overwritten
    else:
        assert job.status == "succeeded" and job.progress == {"phase": "done"}


class _RequeuedSession(_FakeSession):
    """A sweep takes the job back (its heartbeat looked stale) while this worker still trains it."""

    job_id = 0

    def run(self):
        TrainingJob.objects.filter(pk=self.job_id).update(
            status="queued", worker="", progress={"phase": "queued"}
        )
        yield {"phase": "training", "loss": 0.5}
        raise AssertionError("the run went on after losing its job")


def test_a_run_whose_job_was_requeued_stops_at_its_next_progress_write(claimed_job, monkeypatch):
    monkeypatch.setattr(_RequeuedSession, "job_id", claimed_job.pk)
    monkeypatch.setattr(run, "TrainingSession", _RequeuedSession)
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "queued" and job.progress == {"phase": "queued"}
    assert job.finished_at is None and job.error == ""
    assert not job.events.filter(level="error").exists()


def test_a_heartbeat_that_fails_once_keeps_beating(live_db, monkeypatch):
    from tenants.selectors import tenant_get

    tenant = tenant_get(slug="alpha")
    connection.set_tenant(tenant)
    version = dataset_with_version(f"heartbeat-{uuid.uuid4().hex[:8]}")
    stale = timezone.now() - timezone.timedelta(hours=1)
    job = TrainingJobFactory(
        dataset_version=version, model_name="m", status="running", attempts=1, worker="w1", heartbeat_at=stale
    )
    outcomes: list[str] = []
    beat = Heartbeat.beat

    def first_beat_loses_its_connection(self):
        from django.db import connection as thread_connection

        if not outcomes:  # the database drops the thread's connection under its feet
            thread_connection.ensure_connection()
            thread_connection.connection.close()
        try:
            beat(self)
        except Exception:
            outcomes.append("error")
            raise
        outcomes.append("ok")

    monkeypatch.setattr("inference.services.training.heartbeat.HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(Heartbeat, "beat", first_beat_loses_its_connection)
    heartbeat = Heartbeat(job, tenant)
    heartbeat.start()
    try:
        wait_for(
            lambda: TrainingJob.objects.get(pk=job.pk).heartbeat_at > stale,
            timeout=10,
            message="a beat after the failed one",
        )
        assert heartbeat.is_alive() and outcomes[0] == "error" and "ok" in outcomes
    finally:
        heartbeat.stop()
        job.delete()
        version.dataset.delete()
    assert not heartbeat.is_alive()
