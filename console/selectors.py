"""Reads across tenants for operators: every tenant's training jobs, the queues' depth."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django_tenants.utils import tenant_context
from psycopg import sql

from inference.models import TrainingJob
from tenants import workers
from tenants.models import Tenant, TrainingQueue, UsageDay
from tenants.selectors import tenant_list, training_gpu_queue_in_use

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


def queues_without_worker(live: list[dict]) -> list[str]:
    """Queues nobody consumes; the GPU queue only once a tenant or base model sends jobs there."""
    by_queue = workers.workers_by_queue(live)
    if training_gpu_queue_in_use():
        by_queue.setdefault(TrainingQueue.GPU, [])
    return [queue for queue, names in by_queue.items() if not names]


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


def platform_overview(*, days: int = 14) -> dict:
    """The console's front page: tenants, jobs, queues, workers and traffic of the last ``days`` days."""
    tenants = dict(tenant_list().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    jobs = training_jobs_by_state(buckets=())
    live = worker_list()
    since = timezone.now().date() - timedelta(days=days - 1)
    per_day = {
        row["day"]: row
        for row in UsageDay.objects.filter(day__gte=since)
        .values("day")
        .annotate(requests=Sum("requests"), texts=Sum("texts"))
    }
    traffic = [
        {
            "day": day,
            "requests": per_day.get(day, {}).get("requests", 0),
            "texts": per_day.get(day, {}).get("texts", 0),
        }
        for day in (since + timedelta(days=i) for i in range(days))
    ]
    peak = max((row["texts"] for row in traffic), default=0) or 1
    for row in traffic:
        row["pct"] = round(100 * row["texts"] / peak)
    return {
        "tenants_active": tenants.get(Tenant.Status.ACTIVE, 0),
        "tenants_suspended": tenants.get(Tenant.Status.SUSPENDED, 0),
        "jobs_running": jobs.get("running", {}).get("count", 0),
        "jobs_queued": jobs.get("queued", {}).get("count", 0),
        "jobs_failed": jobs.get("failed", {}).get("count", 0),
        "queues": queue_lengths(),
        "workers": None if live is None else len(live),
        "queues_without_worker": None if live is None else queues_without_worker(live),
        "traffic": traffic,
    }


def usage_by_tenant_month(*, month: str | None = None) -> tuple[str, list[dict], list[str]]:
    """Requests and texts per tenant in ``month`` ("YYYY-MM"; the current one when None or malformed),
    with every month that has usage, newest first."""
    months = [
        m.strftime("%Y-%m")
        for m in UsageDay.objects.annotate(m=TruncMonth("day"))
        .values_list("m", flat=True)
        .distinct()
        .order_by("-m")
    ]
    current = timezone.now().strftime("%Y-%m")
    if not (month and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month)):
        month = current
    if current not in months:
        months.insert(0, current)
    year, number = (int(part) for part in month.split("-"))
    rows = list(
        UsageDay.objects.filter(day__year=year, day__month=number)
        .values("tenant__slug", "tenant__name")
        .annotate(requests=Sum("requests"), texts=Sum("texts"))
        .order_by("-texts", "tenant__slug")
    )
    return month, rows, months
