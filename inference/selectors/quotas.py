"""A workspace's quotas and how much of each it uses now: the settings page and the usage API show
these, and the training service checks them (under a lock on the tenant's row) with the same counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from inference.models import TrainingJob
from tenants.models import Tenant

DAY = timedelta(days=1)


def training_jobs_active() -> QuerySet[TrainingJob]:
    """Jobs that hold a slot of the concurrent-jobs quota: queued or running."""
    return TrainingJob.objects.filter(status__in=TrainingJob.ACTIVE)


def training_jobs_counted_today(*, now: datetime | None = None) -> QuerySet[TrainingJob]:
    """Jobs that count toward the daily quota: started in the last 24 hours, or queued (they will
    start). A job cancelled or failed before it started never counts."""
    since = (now or timezone.now()) - DAY
    return TrainingJob.objects.filter(Q(status=TrainingJob.Status.QUEUED) | Q(started_at__gte=since))


def training_daily_slot_frees_at(*, limit: int, now: datetime | None = None) -> datetime | None:
    """When the daily quota lets one more job start, or None when no start in the window will age
    out in time (only queued jobs fill it, or the quota is 0)."""
    now = now or timezone.now()
    counted = training_jobs_counted_today(now=now).count()
    if limit <= 0:
        return None
    starts = list(
        training_jobs_counted_today(now=now)
        .filter(started_at__isnull=False)
        .order_by("started_at", "pk")
        .values_list("started_at", flat=True)
    )
    # One slot frees when enough of the window's oldest starts are 24 hours old.
    index = counted - limit
    return starts[index] + DAY if 0 <= index < len(starts) else None


def quota_usage(*, tenant: Tenant) -> dict:
    """Each quota of the workspace with its limit and current use (None: no limit of that kind)."""
    rate = tenant.rate_limit_per_minute or settings.SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE
    return {
        "concurrent_training_jobs": {
            "limit": tenant.max_concurrent_training_jobs,
            "used": training_jobs_active().count(),
        },
        "training_jobs_per_day": {
            "limit": tenant.max_training_jobs_per_day,
            "used": training_jobs_counted_today().count(),
        },
        "dataset_rows_per_version": {
            "limit": min(tenant.max_dataset_rows, settings.SCALPEL_UPLOAD_MAX_ROWS),
            "used": None,
        },
        "requests_per_minute": {"limit": rate, "used": None},
    }
