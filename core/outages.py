"""Which failures are outages of a service the platform depends on, not bugs.

PostgreSQL unreachable or restarting, Redis down or frozen (a socket timeout), the Celery broker
refusing a message: the same request succeeds once the service is back. Every edge answers these
503 ``service_unavailable`` with ``Retry-After`` (API bodies, HTML pages), so that clients and load
balancers retry instead of reporting a bug.
"""

from __future__ import annotations

import django.db
import kombu.exceptions
import psycopg
import redis

# Seconds a client is told to wait before retrying (restarts and failovers take a few seconds).
RETRY_AFTER_SECONDS = 5

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # connection refused or lost, server shutting down, statement timeout
    psycopg.InterfaceError,  # a connection already closed
    django.db.OperationalError,
    django.db.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,  # the broker refused or could not take a message
)

OUTAGE_MESSAGE = (
    "A service this platform depends on is unavailable for a moment. Nothing was changed by this "
    f"request unless it says otherwise: retry in {RETRY_AFTER_SECONDS} s."
)


def outage_of(exc: BaseException | None) -> BaseException | None:
    """The outage error behind ``exc`` (itself, or one it was raised while handling), else None."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OUTAGE_ERRORS):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def outage_name(exc: BaseException) -> str:
    """Which service failed, for logs and probes: 'database', 'redis' or 'broker'."""
    if isinstance(exc, psycopg.Error | django.db.Error):
        return "database"
    if isinstance(exc, kombu.exceptions.OperationalError):
        return "broker"
    return "redis"
