"""Suspending a workspace stops its training: queued jobs are cancelled, a running one stops at its
next progress check and registers nothing, whatever path wrote the suspension (the service, a
queryset update, SQL). The worker's pipeline runs in-process with stand-ins (no model, seconds)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from inference.engine.training.plan import TrainingPlan
from inference.engine.types import Example
from inference.models import ModelVersion, TrainingJob
from inference.services.training import claim, run
from tenants.models import Tenant
from tenants.services import tenant_suspend
from tests.factories import dataset_with_version


def _suspend_by_sql(tenant) -> None:
    with connection.cursor() as cursor:  # no service, no signal, no cache bump
        cursor.execute("UPDATE public.tenants_tenant SET status = 'suspended' WHERE id = %s", [tenant.pk])


class _Session:
    """Trains nothing; ``before_first_step`` runs before its first progress step."""

    before_first_step = staticmethod(lambda: None)

    def __init__(self, examples, **kwargs):
        self.plan = TrainingPlan(method="head", reason="a stand-in for the test", hyperparameters={})
        self.train = [ex for ex in examples if ex.split == "train"]
        self.validation = [ex for ex in examples if ex.split == "validation"]
        self.trained = None

    def run(self):
        self.before_first_step()
        yield {"phase": "training", "loss": 0.5}
        self.trained = SimpleNamespace(labels=["neg", "pos"], train_info={})
        yield {"phase": "done", "loss": 0.5}


class _Predictor:
    runtime = "torch"

    def predict(self, texts, top_k=None):
        return [{"label": "pos", "score": 0.9, "labels": [{"label": "pos", "score": 0.9}]} for _ in texts]


def _examples(version):
    rows = [Example(text=f"train {i}", label=["neg", "pos"][i % 2], split="train") for i in range(4)]
    rows.append(Example(text="validation", label="pos", split="validation"))
    return rows + [Example(text=f"test {i}", label="pos", split="test") for i in range(8)]


@pytest.fixture
def claimed_job(tenant_a, monkeypatch):
    connection.set_tenant(tenant_a)
    version = dataset_with_version("suspend-data")
    job = TrainingJob.objects.create(
        dataset_version=version, model_name="suspended", base_model_id="minilm-l6", method="head"
    )
    assert claim.training_job_claim(job.pk)
    monkeypatch.setattr(run, "TrainingSession", _Session)
    monkeypatch.setattr(run, "dataset_version_to_examples", _examples)
    monkeypatch.setattr(
        run.runtime_choice,
        "choose_runtime",
        lambda *args, **kwargs: (_Predictor(), {"name": "torch", "reason": "a stand-in for the test"}),
    )
    return job


def _assert_stopped_by_suspension(job_id: int) -> None:
    job = TrainingJob.objects.get(pk=job_id)
    assert (job.status, job.error_code) == ("cancelled", "tenant_suspended"), job.error
    assert "workspace was suspended" in job.error
    assert job.model_version is None and not ModelVersion.objects.exists()


def test_a_running_job_stops_at_its_next_progress_check_when_sql_suspends_the_workspace(
    claimed_job, monkeypatch, tenant_a
):
    monkeypatch.setattr(_Session, "before_first_step", staticmethod(lambda: _suspend_by_sql(tenant_a)))
    run.run_training_job(claimed_job.pk)
    _assert_stopped_by_suspension(claimed_job.pk)


def test_a_suspension_while_the_model_is_saved_registers_no_version(claimed_job, monkeypatch, tenant_a):
    def save(trained, directory, **kwargs):
        Tenant.objects.filter(pk=tenant_a.pk).update(status="suspended")  # a queryset update
        return {"method": "head", "labels": ["neg", "pos"], "files": {}}

    monkeypatch.setattr(run.artifact, "save", save)
    run.run_training_job(claimed_job.pk)
    _assert_stopped_by_suspension(claimed_job.pk)


def test_a_worker_cancels_a_queued_job_of_a_suspended_workspace_instead_of_claiming_it(tenant_a):
    with tenant_context(tenant_a):
        version = dataset_with_version("suspend-queued")
        job = TrainingJob.objects.create(dataset_version=version, model_name="m", base_model_id="minilm-l6")
        _suspend_by_sql(tenant_a)
        assert not claim.training_job_claim(job.pk)
        job.refresh_from_db()
    assert (job.status, job.error_code) == ("cancelled", "tenant_suspended")


def test_suspending_cancels_queued_jobs_and_asks_running_ones_to_stop(
    tenant_a, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        version = dataset_with_version("suspend-all")
        queued = TrainingJob.objects.create(
            dataset_version=version, model_name="q", base_model_id="minilm-l6"
        )
        running = TrainingJob.objects.create(
            dataset_version=version, model_name="r", base_model_id="minilm-l6", status="running"
        )
    with django_capture_on_commit_callbacks(execute=True):
        tenant_suspend(tenant=tenant_a, reason="unpaid", actor="system")
    with tenant_context(tenant_a):
        queued.refresh_from_db()
        running.refresh_from_db()
        assert (queued.status, queued.error_code) == ("cancelled", "tenant_suspended")
        assert queued.events.filter(message__contains="workspace was suspended").exists()
        assert running.status == "running" and running.cancel_requested  # stops at its next step
