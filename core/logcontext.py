"""The fields every log line of a request or a task carries, and the request id.

One store for both: structlog's context variables (per thread and per task), which the log formatter
merges into each record (``config/log_format.py``) and error bodies read their ``request_id`` from.
The field names are fixed here: ``request_id``, ``tenant``, ``key_prefix``, ``job_id``, ``task``,
``task_id``.
"""

from __future__ import annotations

import re
import uuid

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller's id may look like: a UUID, a proxy's trace id, ... Anything else (too long, spaces,
# control characters, quotes) is replaced by a fresh id, never copied into logs or headers.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}$")


def request_id_accept(value: str | None) -> str:
    """The caller's id when it is well formed, else a new one (32 hex characters)."""
    if value and REQUEST_ID_PATTERN.match(value):
        return value
    return uuid.uuid4().hex


def context_start(**fields) -> None:
    """Forget whatever an earlier request or task left on this thread, then bind ``fields``."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**fields)


def context_bind(**fields) -> None:
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})


def context_clear() -> None:
    structlog.contextvars.clear_contextvars()


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")
