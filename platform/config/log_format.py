"""Logging: JSON lines in production, readable lines on a developer's terminal (``LOG_FORMAT``).

Every record, from our code, Django, Celery or a library, goes through structlog's formatter, which
adds the fields bound for the current request or task (``request_id``, ``tenant``, ``key_prefix``,
``job_id``, ``task``, ``task_id``; see ``core.logcontext``) and any ``extra={...}`` of the call.
"""

from __future__ import annotations

import structlog
from django.core.exceptions import ImproperlyConfigured

FORMATS = ("json", "console")


def default_format(scalpel_env: str) -> str:
    return "json" if scalpel_env == "production" else "console"


def shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def logging_config(*, log_format: str, level: str) -> dict:
    """The ``LOGGING`` dict, and structlog set up to render through it."""
    if log_format not in FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT is {log_format!r}: set it to json or console.")
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    )
    pre_chain = shared_processors()
    structlog.configure(
        processors=[*pre_chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if log_format == "json":
        final.append(structlog.processors.format_exc_info)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [*final, renderer],
                "foreign_pre_chain": pre_chain,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Our task signals log each task's start and end with its job id; Celery's own
            # "succeeded in" lines would repeat them (failures still come through at ERROR).
            "celery.app.trace": {"level": "WARNING"},
            # axes logs every attempt at INFO; the audit log records them, with the workspace.
            "axes": {"level": "WARNING"},
        },
    }
