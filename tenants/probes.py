"""Liveness and readiness checks."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection


def health() -> dict:
    return {"status": "ok"}


def readiness() -> dict:
    checks = {"database": _check(_database), "redis": _check(_redis)}
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by type only
        return {
            "ok": False,
            "error": type(exc).__name__,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


# --- Serving statistics of this web process (operators only) -------------------------------------

SERVING_STATS_PATH = "/metrics/serving"
LOOPBACK = {"127.0.0.1", "::1"}


def may_read_serving_stats(request) -> bool:
    """Loopback callers (a sidecar, the node's own scraper) or the bearer of SCALPEL_METRICS_TOKEN."""
    import hmac

    token = getattr(settings, "SCALPEL_METRICS_TOKEN", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(header, f"Bearer {token}"):
        return True
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    return not forwarded and request.META.get("REMOTE_ADDR") in LOOPBACK


def serving_stats() -> dict:
    """Loaded model versions, their memory, shared bases, cache hits/misses/evictions, micro-batches, RSS."""
    from inference.services.runtime_cache import runtime_cache
    from inference.services.serving import usage_buffer_stats

    return {"runtime_cache": runtime_cache().stats(), "usage": usage_buffer_stats()}
