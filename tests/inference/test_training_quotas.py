"""Training quotas hold under concurrent requests; 0 means none; only started jobs count per day."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.exceptions import ApplicationError
from inference.models import TrainingJob
from inference.selectors.quotas import quota_usage
from inference.services.training import training_job_cancel, training_job_start
from tests.factories import dataset_with_version
from tests.support import purge_broker


def _start(**kwargs) -> TrainingJob:
    return training_job_start(dataset="reviews", model_name="m", actor="system", **kwargs)


def _quota_error(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        _start(**kwargs)
    assert caught.value.code == "quota_exceeded"
    return caught.value


def _set_quotas(tenant, **values) -> None:
    for name, value in values.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(values))


def test_twelve_simultaneous_job_creations_never_exceed_the_concurrent_quota(live_tenant):
    _set_quotas(live_tenant, max_concurrent_training_jobs=2)
    with tenant_context(live_tenant):
        dataset_with_version("reviews")
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def attempt():
        try:
            with tenant_context(live_tenant):
                barrier.wait()
                _start()
            outcomes.append("created")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connections["default"].close()  # each thread's own connection

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["created"] * 2 + ["quota_exceeded"] * 10
        with tenant_context(live_tenant):
            assert TrainingJob.objects.count() == 2
    finally:
        purge_broker()  # the two queued jobs must reach no worker


@pytest.mark.parametrize(
    "quota, words",
    [
        ("max_training_jobs_per_day", "no training jobs per day"),
        ("max_concurrent_training_jobs", "at a time"),
    ],
)
def test_a_quota_of_zero_refuses_every_job_with_a_message(tenant_a, quota, words):
    _set_quotas(tenant_a, **{quota: 0})
    with tenant_context(tenant_a):
        dataset_with_version("reviews")
        error = _quota_error()
        assert words in error.message and "quota is 0" in error.message
        assert error.details["limit"] == 0
        assert TrainingJob.objects.count() == 0


def test_a_job_cancelled_before_it_started_does_not_count_toward_the_daily_quota(tenant_a):
    _set_quotas(tenant_a, max_training_jobs_per_day=1, max_concurrent_training_jobs=5)
    with tenant_context(tenant_a):
        dataset_with_version("reviews")
        first = _start()
        assert _quota_error().details["quota"] == "jobs_per_day"  # queued jobs hold their slot
        training_job_cancel(job=first, actor="system")
        second = _start()
        assert second.pk != first.pk


def test_a_job_that_started_counts_for_24_hours_from_its_start_even_if_cancelled(tenant_a):
    _set_quotas(tenant_a, max_training_jobs_per_day=1, max_concurrent_training_jobs=5)
    with tenant_context(tenant_a):
        dataset_with_version("reviews")
        job = _start()
        started = timezone.now() - timezone.timedelta(hours=23)
        TrainingJob.objects.filter(pk=job.pk).update(status="cancelled", started_at=started)
        error = _quota_error()
        assert 3500 <= error.details["retry_after"] <= 3600
        TrainingJob.objects.filter(pk=job.pk).update(started_at=started - timezone.timedelta(hours=2))
        assert _start().status == "queued"


def test_the_quota_usage_counts_what_the_checks_count(tenant_a):
    _set_quotas(tenant_a, max_training_jobs_per_day=7, max_concurrent_training_jobs=3)
    with tenant_context(tenant_a):
        dataset_with_version("reviews")
        _start()
        cancelled = _start()
        training_job_cancel(job=cancelled, actor="system")
        usage = quota_usage(tenant=connection.tenant)
    assert usage["concurrent_training_jobs"] == {"limit": 3, "used": 1}
    assert usage["training_jobs_per_day"] == {"limit": 7, "used": 1}
