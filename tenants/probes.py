"""Liveness and readiness checks.

``/readyz`` says whether this web process can serve: PostgreSQL and Redis answer. Workers are not
part of it (a load balancer must not drop every web node because training workers are down);
``/readyz?workers=1`` adds them for operators' monitors: each queue needs a live worker
(``?workers=training`` names the queues to require).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import redis
from django.conf import settings
from django.db import connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import workers


def health() -> dict:
    return {"status": "ok"}


def readiness(*, require_workers: list[str] | None = None) -> dict:
    checks = {"database": _check(_database), "redis": _check(_redis)}
    if require_workers:
        # Heartbeats live in Redis: without it, asking again would only wait out another timeout.
        checks["workers"] = (
            _workers_check(require_workers)
            if checks["redis"]["ok"]
            else {"ok": False, "error": "Redis is unavailable", "ms": 0.0}
        )
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}


def required_queues(param: str | None) -> list[str] | None:
    """The queues ``?workers=`` asks for: ``1``/``true``/``all`` means every queue of the platform."""
    if not param or param.lower() in ("0", "false", "no"):
        return None
    if param.lower() in ("1", "true", "yes", "all"):
        return list(workers.QUEUES)
    return [queue.strip() for queue in param.split(",") if queue.strip()]


def _workers_check(queues: list[str]) -> dict:
    started = time.perf_counter()
    try:
        by_queue = workers.workers_by_queue(workers.workers_alive(timeout=CHECK_TIMEOUT_SECONDS))
    except redis.RedisError as exc:
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
    found = {queue: by_queue.get(queue, []) for queue in queues}
    missing = [queue for queue, names in found.items() if not names]
    result = {"ok": not missing, "queues": found, "ms": _ms(started)}
    if missing:
        result["error"] = "no live worker for " + ", ".join(missing)
    return result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by type only
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


# Each check gives up after this long, so /readyz answers within 2 s with either service frozen.
CHECK_TIMEOUT_SECONDS = 0.8
# One database check at a time: a check stuck on a frozen server is not joined by more.
_database_checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz-db")
_database_pending: Future | None = None


def _database() -> None:
    """SELECT 1 on a connection of its own, given up after ``CHECK_TIMEOUT_SECONDS``.

    PostgreSQL enforces a statement timeout only while it runs: a frozen (SIGSTOPped, partitioned)
    server never answers, and psycopg has no read timeout, so the check runs in a thread we stop
    waiting for.
    """
    global _database_pending
    if _database_pending is not None and not _database_pending.done():
        raise TimeoutError("the previous database check has not answered yet")
    _database_pending = _database_checks.submit(_database_select)
    _database_pending.result(timeout=CHECK_TIMEOUT_SECONDS)


def _database_select() -> None:
    db = connection.settings_dict
    timeout_ms = int(CHECK_TIMEOUT_SECONDS * 1000)
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        connect_timeout=max(1, int(CHECK_TIMEOUT_SECONDS + 0.5)),
        options=f"-c statement_timeout={timeout_ms}",
        autocommit=True,
    ) as conn:
        conn.execute("SELECT 1")


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()
