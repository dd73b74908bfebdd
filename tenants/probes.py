"""Liveness and readiness checks.

``/readyz`` says whether this web process can serve: PostgreSQL and Redis answer. Workers are not
part of it (a load balancer must not drop every web node because training workers are down);
``/readyz?workers=1`` adds them for operators' monitors: each queue needs a live worker
(``?workers=training`` names the queues to require).
"""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection

from . import workers


def health() -> dict:
    return {"status": "ok"}


def readiness(*, require_workers: list[str] | None = None) -> dict:
    checks = {"database": _check(_database), "redis": _check(_redis)}
    if require_workers:
        checks["workers"] = _workers_check(require_workers)
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
        by_queue = workers.workers_by_queue(workers.workers_alive())
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


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
