"""Reads across tenants for operators: every tenant's training jobs, the queues' depth."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from psycopg import sql

from inference.models import TrainingJob
from tenants import workers
from tenants.models import TrainingQueue
from tenants.selectors import tenant_list

QUEUES = ("default", *TrainingQueue.values)


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
        return {queue: client.llen(queue) for queue in QUEUES}
    except redis.RedisError:
        return dict.fromkeys(QUEUES)


def worker_list() -> list[dict] | None:
    """Live Celery workers (name, queues, pid, started, age_seconds); None when Redis cannot be read."""
    try:
        alive = workers.workers_alive()
    except redis.RedisError:
        return None
    for worker in alive:
        worker["started"] = datetime.fromtimestamp(worker["started_at"], tz=UTC)
    return alive


def training_jobs_by_device() -> dict[tuple[str, str], int]:
    """Every tenant's jobs that started training, by kind of device (``cpu``, ``cuda``) and state."""
    schemas = list(tenant_list().values_list("schema_name", flat=True))
    if not schemas:
        return {}
    table = TrainingJob._meta.db_table
    one = sql.SQL("SELECT split_part(device, ':', 1) AS kind, status FROM {} WHERE device <> ''")
    union = sql.SQL(" UNION ALL ").join(one.format(sql.Identifier(schema, table)) for schema in schemas)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT kind, status, count(*) FROM ({}) j GROUP BY kind, status").format(union)
        )
        return {(kind, status): count for kind, status, count in cursor.fetchall()}


def training_jobs_by_state(*, buckets: tuple[float, ...]) -> dict[str, dict]:
    """Every tenant's training jobs by state, in one query: how many, and for jobs that ran, how long.

    ``{state: {"count", "timed", "seconds", "le": [jobs that ran at most bucket seconds, ...]}}``;
    ``timed`` counts the jobs with a start and an end (cumulative buckets, as Prometheus wants them).
    """
    schemas = list(tenant_list().values_list("schema_name", flat=True))
    states = {
        state: {"count": 0, "timed": 0, "seconds": 0.0, "le": [0] * len(buckets)}
        for state in TrainingJob.Status.values
    }
    if not schemas:
        return states
    table = TrainingJob._meta.db_table
    one = sql.SQL("SELECT status, EXTRACT(EPOCH FROM finished_at - started_at) AS d FROM {}")
    union = sql.SQL(" UNION ALL ").join(one.format(sql.Identifier(schema, table)) for schema in schemas)
    le = sql.SQL("").join(sql.SQL(", count(*) FILTER (WHERE d <= %s)") for _ in buckets)
    query = sql.SQL("SELECT status, count(*), count(d), coalesce(sum(d), 0){} FROM ({}) j GROUP BY status")
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(query.format(le, union), [float(b) for b in buckets])
        for status, count, timed, seconds, *le_counts in cursor.fetchall():
            states[status] = {
                "count": count,
                "timed": timed,
                "seconds": float(seconds),
                "le": list(le_counts),
            }
    return states
