"""Delivery of training jobs to the workers: a send the broker refuses leaves the job queued with a
note, and the sweep sends it again, as it does for a job whose message was lost."""

from __future__ import annotations

from types import SimpleNamespace

from django.db import connection

from inference.models import TrainingJob
from inference.services.training import sweep
from tests.support import purge_broker


def _queued_job(tenant, **fields) -> TrainingJob:
    from inference.models import Dataset, DatasetVersion

    connection.set_tenant(tenant)
    dataset = Dataset.objects.create(name="d", task="classification")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="x")
    return TrainingJob.objects.create(
        dataset_version=version, model_name="m", base_model_id="minilm-l6", **fields
    )


def test_a_job_whose_message_cannot_be_sent_stays_queued_with_a_note_and_the_sweep_sends_it(
    tenant_a, monkeypatch
):
    import kombu.exceptions
    from celery import current_app

    from inference.services.training import queue

    job = _queued_job(tenant_a)
    sent = []

    def broker_down(name, args=None, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    assert queue.training_job_send(job=job, schema=tenant_a.schema_name) is False
    job.refresh_from_db()
    assert (
        job.status == "queued"
        and job.progress["not_sent"]
        and "broker is unavailable" in job.progress["note"]
    )
    assert "broker is unavailable" in job.events.get().message

    monkeypatch.setattr(current_app, "send_task", lambda name, args=None, **kwargs: sent.append(args))
    assert sweep.resend_unsent_jobs() == [job.pk] and sent == [[job.pk]]
    job.refresh_from_db()
    assert job.progress == {"phase": "queued"}
    assert sweep.resend_unsent_jobs() == []  # sent now: not again before SCALPEL_JOB_RESEND_SECONDS


def test_a_long_queued_job_is_sent_again_only_when_the_broker_has_no_message_for_it(
    tenant_a, monkeypatch, settings
):
    from django.utils import timezone

    from inference.services.training import sweep as sweep_module

    long_ago = timezone.now() - timezone.timedelta(seconds=settings.SCALPEL_JOB_RESEND_SECONDS + 5)
    job = _queued_job(tenant_a, created_at=long_ago)
    sent = []
    monkeypatch.setattr(sweep_module, "training_job_send", lambda *, job, schema: sent.append(job.pk) or True)

    monkeypatch.setattr(sweep_module, "jobs_with_a_message", lambda: {(tenant_a.schema_name, job.pk)})
    assert sweep.resend_unsent_jobs() == [] and sent == []  # its message is waiting: leave it
    monkeypatch.setattr(sweep_module, "jobs_with_a_message", lambda: None)
    assert sweep.resend_unsent_jobs() == []  # the broker cannot be read: assume nothing
    monkeypatch.setattr(sweep_module, "jobs_with_a_message", set)
    assert sweep.resend_unsent_jobs() == [job.pk] and sent == [job.pk]
    assert "was lost" in job.events.get().message


def test_the_broker_scan_finds_waiting_and_unacknowledged_training_messages(tenant_a):
    from celery import current_app
    from django_tenants.utils import schema_context

    from inference.services.training import queue

    purge_broker()
    try:
        with schema_context(tenant_a.schema_name):
            current_app.send_task(queue.TRAIN_MODEL_TASK, args=[424242])
        assert (tenant_a.schema_name, 424242) in queue.jobs_with_a_message()
    finally:
        purge_broker()


def test_a_database_outage_during_a_run_is_waited_out_and_named_in_the_job_history(tenant_a, monkeypatch):
    from django.db import OperationalError

    from inference.services.training import run

    job = _queued_job(tenant_a)
    monkeypatch.setattr(run.time, "sleep", lambda seconds: None)
    # As in a worker: no transaction around the writes, and a broken connection is closed.
    monkeypatch.setattr(run, "connection", SimpleNamespace(in_atomic_block=False, close=lambda: None))
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise OperationalError("server closed the connection unexpectedly")
        return "written"

    assert run._retrying(job, flaky) == "written" and len(calls) == 4
    assert "The database was unavailable" in job.events.get().message


def test_a_database_outage_longer_than_the_limit_gives_up(tenant_a, monkeypatch, settings):
    import pytest
    from django.db import OperationalError

    from inference.services.training import run

    settings.SCALPEL_JOB_DATABASE_RETRY_SECONDS = 0
    job = _queued_job(tenant_a)
    monkeypatch.setattr(run.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(run, "connection", SimpleNamespace(in_atomic_block=False, close=lambda: None))

    def down():
        raise OperationalError("connection refused")

    with pytest.raises(run.DatabaseUnavailable):
        run._retrying(job, down)
