"""Reads across tenants for operators: every tenant's training jobs, the queues' depth."""

from __future__ import annotations

import redis
from django.conf import settings
from django_tenants.utils import tenant_context

from inference.models import TrainingJob
from tenants.selectors import tenant_list


def platform_jobs_overview(*, limit_per_tenant: int = 20) -> list[dict]:
    """Recent and active training jobs of every tenant, for operators (read schema by schema)."""
    rows = []
    for tenant in tenant_list():
        with tenant_context(tenant):
            for job in TrainingJob.objects.select_related("dataset_version__dataset").order_by("-created_at")[
                :limit_per_tenant
            ]:
                rows.append({"tenant": tenant.slug, "job": job, "dataset": str(job.dataset_version)})
    rows.sort(key=lambda r: (r["job"].status not in ("running", "queued"), -r["job"].created_at.timestamp()))
    return rows


def queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (None when Redis cannot be reached)."""
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        return {queue: client.llen(queue) for queue in ("default", "training")}
    except redis.RedisError:
        return {"default": None, "training": None}
