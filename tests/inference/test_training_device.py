"""Training devices through the worker: a CUDA worker without CUDA fails a job at start, saying why; a
job records what trained it; and jobs go to the CPU or GPU workers' queue as the operator decided.

The worker's pipeline runs in-process with a stand-in training session: no worker, no model.
"""

from __future__ import annotations

import pytest
import torch
from django.db import connection

from inference.engine.holdout import EvaluationSplit
from inference.engine.training.plan import TrainingPlan
from inference.models import TrainingJob
from inference.services.training import claim, queue, run
from tenants.models import BaseModel
from tests.factories import dataset_with_version


class _PlannedSession:
    """Plans like the engine (batch, rates, the device it was given), then stops before training."""

    def __init__(self, examples, *, device, **kwargs):
        hp = {"batch_size": 32, "learning_rate": 1e-4, "head_learning_rate": 1e-3}
        self.plan = TrainingPlan(
            method="full", reason="a stand-in", hyperparameters=hp, device=device.as_dict()
        )
        self.train, self.validation, self.trained = examples, [], None

    def run(self):
        raise ValueError("The stand-in session stops here.")
        yield


@pytest.fixture
def claimed_job(tenant_a, monkeypatch):
    """A running job of tenant A; its training is a stand-in and reading its data is recorded."""
    connection.set_tenant(tenant_a)
    job = TrainingJob.objects.create(
        dataset_version=dataset_with_version("device-data"), model_name="m", base_model_id="minilm-l6"
    )
    assert claim.training_job_claim(job.pk)
    job.data_reads = []
    monkeypatch.setattr(run, "TrainingSession", _PlannedSession)
    monkeypatch.setattr(
        run, "dataset_version_to_examples", lambda version: job.data_reads.append(version) or []
    )
    held_out = EvaluationSplit(source="test", examples=[], test=[], statement="Judged on a stand-in.", seed=0)
    monkeypatch.setattr(run, "evaluation_split", lambda *args, **kwargs: held_out)
    return job


def test_a_cuda_worker_on_a_machine_without_cuda_fails_the_job_at_start_with_what_to_do(
    claimed_job, settings, monkeypatch
):
    settings.SCALPEL_TRAINING_DEVICE = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "failed" and job.error_code == "device_unavailable"
    assert job.error.startswith(
        "This worker was asked to train on cuda:0 but this machine has no CUDA device"
    )
    assert (
        "An operator must set SCALPEL_TRAINING_DEVICE=auto or cpu on that worker (it is 'cuda')" in job.error
    )
    assert "Traceback" not in job.error and job.finished_at is not None
    assert claimed_job.data_reads == [], "the job is refused before its data is read"
    events = list(job.events.values_list("level", "message"))
    assert events[-1] == ("error", f"Failed: {job.error}")


def test_a_job_records_the_device_precision_batch_and_learning_rate_it_trains_with(
    claimed_job, settings, monkeypatch
):
    settings.SCALPEL_TRAINING_DEVICE = "auto"  # this machine has no GPU: the CPU
    run.run_training_job(claimed_job.pk)

    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.device == "cpu"
    messages = list(job.events.values_list("message", flat=True))
    assert "Device: cpu, fp32; batch 32, learning rate 0.0001 (head 0.001)." in messages
    assert job.error == "The stand-in session stops here."


def _sent_queues(monkeypatch) -> list:
    sent = []

    class _App:
        def send_task(self, name, args, queue=None):
            sent.append((name, args, queue))

    monkeypatch.setattr(queue, "current_app", _App())
    return sent


@pytest.mark.parametrize(
    ("tenant_queue", "base_queue", "expected"),
    [
        ("", "training", "training"),  # nothing set: the CPU workers
        ("", "training-gpu", "training-gpu"),  # the base model sends its jobs to the GPU workers
        ("training", "training-gpu", "training"),  # the tenant's choice wins over the base model's
        ("training-gpu", "training", "training-gpu"),
    ],
)
def test_a_job_goes_to_the_queue_its_tenant_or_else_its_base_model_names(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks, tenant_queue, base_queue, expected
):
    BaseModel.objects.filter(pk="minilm-l6").update(training_queue=base_queue)
    tenant_a.training_queue = tenant_queue
    tenant_a.save(update_fields=["training_queue"])
    connection.set_tenant(tenant_a)
    job = TrainingJob.objects.create(
        dataset_version=dataset_with_version("routed"), model_name="m", base_model_id="minilm-l6"
    )
    sent = _sent_queues(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        queue.training_job_enqueue(job=job)
    assert sent == [(queue.TRAIN_MODEL_TASK, [job.pk], expected)]
    assert TrainingJob.objects.get(pk=job.pk).queue == expected


def test_a_gpu_out_of_memory_says_what_to_change(claimed_job, monkeypatch):
    def out_of_memory(self):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield

    monkeypatch.setattr(_PlannedSession, "run", out_of_memory)
    run.run_training_job(claimed_job.pk)
    job = TrainingJob.objects.get(pk=claimed_job.pk)
    assert job.status == "failed" and job.error.startswith(
        "The GPU ran out of memory. Try a smaller batch size"
    )
