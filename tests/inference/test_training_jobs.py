"""Training jobs run by a real worker: end to end, cancel, crash recovery, time budget."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from inference.models import TrainingJob
from inference.selectors.datasets import dataset_version_to_examples
from inference.services.datasets import dataset_upload
from inference.services.training import claim, sweep, training_job_cancel, training_job_start
from tests.factories import TrainingJobFactory
from tests.support import banking77_slice, purge_broker, start_worker, stop_worker, wait_for, wnut17_slice

pytestmark = pytest.mark.slow

# A run that outlasts any test: many epochs and no early stopping.
LONG_RUN = {"epochs": 500, "early_stopping_patience": 500}


def _upload_intents():
    """Six banking77 intents × 20 examples, uploaded as the dataset "intents"."""
    return dataset_upload(
        name="intents",
        file=banking77_slice(),
        filename="intents.csv",
        task="classification",
        label_column="category",
    )


def _job(job_id: int) -> TrainingJob:
    return TrainingJob.objects.get(pk=job_id)


def _wait_final(job_id: int, timeout: float = 240, process=None) -> TrainingJob:
    return wait_for(
        lambda: (j := _job(job_id)).status not in TrainingJob.ACTIVE and j,
        timeout=timeout,
        message=f"job {job_id} to end",
        process=process,
    )


def test_worker_trains_classification_and_the_metrics_match_its_own_predictions(
    live_tenant, celery_worker_process
):
    with tenant_context(live_tenant):
        version = _upload_intents()
        job = training_job_start(
            dataset="intents", model_name="router", method="full", hyperparameters={"epochs": 3}
        )
        job = _wait_final(job.pk, process=celery_worker_process)
        assert job.status == "succeeded", (job.error, list(job.events.values_list("message", flat=True)))
        assert job.worker and job.started_at and job.finished_at and job.resolved_method == "full"
        assert job.progress["phase"] == "done"
        assert job.events.filter(message__startswith="Method: full").exists()

        mv = job.model_version
        metrics = mv.metrics
        test = [ex for ex in dataset_version_to_examples(version) if ex.split == "test"]
        assert metrics["test_size"] == len(test) > 0
        # Recompute the headline figure independently from the version's own test predictions.
        predicted = [p["label"] for p in metrics["predictions"]]
        accuracy = sum(p == ex.label for p, ex in zip(predicted, test, strict=True)) / len(test)
        assert metrics["accuracy"] == pytest.approx(accuracy)
        assert mv.headline_value == pytest.approx(accuracy)
        assert metrics["baseline"]["name"] and mv.baseline_value is not None
        assert metrics["latency_ms_p50"] > 0
        assert accuracy > 1 / 6  # better than chance on six intents
        # Lineage recorded on the version.
        assert mv.dataset_hash == version.content_hash and mv.base_model_id == "minilm-l6"
        assert mv.artifact_path.startswith(f"tenants/{live_tenant.pk}/models/router/v1")
        assert {"torch", "transformers"} <= set(mv.library_versions)

        # Serving the stored artifact answers exactly as the evaluation did.
        from inference.services.serving import predict

        served = predict(model_name="router", inputs=[ex.text for ex in test])
        assert [p["label"] for p in served["predictions"]] == predicted
        assert served["version"] == 1
        # The runtime chosen at training time is recorded on the version and in its manifest, and serves.
        assert mv.runtime in ("onnx-int8", "onnx", "torch") and served["runtime"] == mv.runtime
        assert mv.artifact_manifest["runtime"]["name"] == mv.runtime == mv.runtime_info["name"]
        if mv.runtime == "onnx-int8":
            assert mv.runtime_info["agreement"]["onnx_int8_vs_onnx"] >= 0.995


def test_worker_trains_extraction_and_entity_f1_matches_seqeval(live_tenant, celery_worker_process):
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from inference.engine.types import Span
    from inference.engine.words import spans_to_tags, word_offsets

    with tenant_context(live_tenant):
        version = dataset_upload(
            name="tweets", file=wnut17_slice(120), filename="wnut.conll", task="extraction"
        )
        job = training_job_start(dataset="tweets", model_name="ner", hyperparameters={"epochs": 2})
        job = _wait_final(job.pk, process=celery_worker_process)
        assert job.status == "succeeded", job.error
        metrics = job.model_version.metrics
        test = [ex for ex in dataset_version_to_examples(version) if ex.split == "test"]
        gold, pred = [], []
        for ex, p in zip(test, metrics["predictions"], strict=True):
            offsets = word_offsets(ex.text, ex.tokens)
            gold.append(spans_to_tags(offsets, ex.entities or []))
            pred.append(
                spans_to_tags(offsets, [Span(e["start"], e["end"], e["label"]) for e in p["entities"]])
            )
        assert metrics["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
        assert "per_type" in metrics and "baseline" in metrics


def test_cancel_stops_a_running_job_within_seconds_and_frees_the_worker(live_tenant, celery_worker_process):
    with tenant_context(live_tenant):
        _upload_intents()
        long_job = training_job_start(
            dataset="intents", model_name="router", method="full", hyperparameters=LONG_RUN
        )
        wait_for(
            lambda: _job(long_job.pk).progress.get("phase") == "training",
            timeout=120,
            message="training to start",
        )
        requested = time.monotonic()
        training_job_cancel(job=_job(long_job.pk), actor="tester")
        final = _wait_final(long_job.pk, timeout=30, process=celery_worker_process)
        assert final.status == "cancelled"
        assert time.monotonic() - requested < 10
        assert final.model_version is None
        # The worker is free again: a queued job is cancelled at once, a new one runs.
        quick = training_job_start(dataset="intents", model_name="router", method="head")
        assert _wait_final(quick.pk, process=celery_worker_process).status == "succeeded"


def test_time_budget_ends_a_runaway_job_with_a_clear_reason(live_tenant, celery_worker_process):
    with tenant_context(live_tenant):
        _upload_intents()
        # "full": a head (what auto picks here) trains in well under a second whatever the epochs.
        job = training_job_start(
            dataset="intents",
            model_name="router",
            method="full",
            hyperparameters=LONG_RUN,
            time_budget_seconds=8,
        )
        final = _wait_final(job.pk, timeout=120, process=celery_worker_process)
        assert final.status == "failed"
        assert final.error_code == "time_budget_exceeded"
        assert "time budget of 8 seconds" in final.error


def test_a_sigkilled_workers_job_is_recovered_and_completes(live_tenant, settings):
    purge_broker()
    settings.SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS = 3
    worker = start_worker("training")
    try:
        with tenant_context(live_tenant):
            _upload_intents()
            # "full": the job must still be training when the worker is killed (a head is done at once).
            # Long enough to be killed mid-training (no early stop); the retry below is made short.
            job = training_job_start(
                dataset="intents", model_name="router", method="full", hyperparameters=LONG_RUN
            )
            wait_for(
                lambda: (_job(job.pk).progress.get("step") or 0) > 0,
                timeout=120,
                message="training to start",
                process=worker,
            )
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            assert _job(job.pk).status == "running"  # nobody told the database

            time.sleep(4)  # the heartbeat goes stale
            assert sweep.recover_stalled_jobs() == [(job.pk, "requeued")]
            assert _job(job.pk).status == "queued"
            assert _job(job.pk).events.filter(message__contains="stopped responding").exists()
            # The retry reads its settings from the row: make it quick so the test can see it finish.
            TrainingJob.objects.filter(pk=job.pk).update(hyperparameters={"epochs": 1})
    finally:
        stop_worker(worker)
    worker = start_worker("training")
    try:
        with tenant_context(live_tenant):
            final = _wait_final(job.pk, process=worker)
            assert final.status == "succeeded", final.error
            assert final.attempts == 2
    finally:
        stop_worker(worker)
        purge_broker()  # the killed worker's delivery of the first attempt is still "unacked"


def test_a_job_whose_worker_keeps_dying_fails_with_a_readable_reason(tenant_a, settings):
    from django.utils import timezone

    connection.set_tenant(tenant_a)
    job = TrainingJobFactory(
        model_name="m", status="running", attempts=settings.SCALPEL_JOB_MAX_ATTEMPTS, worker="w1",
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )  # fmt: skip
    assert sweep.recover_stalled_jobs() == [(job.pk, "failed")]
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "worker_lost"
    assert "stopped responding" in job.error and job.finished_at is not None


def test_a_second_delivery_of_the_same_job_does_nothing(tenant_a):

    connection.set_tenant(tenant_a)
    job = TrainingJobFactory(model_name="m")
    assert claim.training_job_claim(job.pk) is True
    assert claim.training_job_claim(job.pk) is False
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1
