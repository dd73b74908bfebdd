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
