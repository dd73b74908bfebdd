"""Platform-level Celery tasks."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection


@shared_task(name="tenants.tasks.report_worker_context", time_limit=30, soft_time_limit=20)
def report_worker_context(token: str) -> dict:
    """Write where this task ran (schema, users visible there) to the cache under ``token``.

    Used by readiness tooling and tests to prove a worker runs each task in its sender's tenant.
    """
    context = {
        "schema": connection.schema_name,
        "users": list(get_user_model().objects.values_list("username", flat=True)),
    }
    cache.set(f"worker-context:{token}", context, timeout=300)
    return context


@shared_task(name="tenants.tasks.purge_idempotency_records", time_limit=300, soft_time_limit=240)
def purge_idempotency_records() -> int:
    """Beat task: forget the answers kept for Idempotency-Keys once they are 24 hours old."""
    from .services.idempotency import idempotency_purge

    return idempotency_purge()
