"""What every Celery process does around its tasks: logging set up from Django's settings, each
task's start and end logged with its ids, the sender's request id carried along, a heartbeat.

Connected by ``config.celery_app`` when the app is created, in web processes (which send tasks) and
workers alike.
"""

from __future__ import annotations

import inspect
import logging
import logging.config
import os
import time

from celery import signals
from django.conf import settings
from django.db import connection

from core import logcontext
from tenants import workers

logger = logging.getLogger("scalpel.tasks")

REQUEST_ID_HEADER = "scalpel_request_id"

_started: dict[str, float] = {}
_heartbeat: workers.HeartbeatThread | None = None


@signals.setup_logging.connect
def _logging_from_settings(**kwargs) -> None:
    # With a receiver here Celery leaves logging alone: the worker logs like the web processes
    # (LOG_FORMAT, LOG_LEVEL), whatever its -l says.
    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **kwargs) -> None:
    request_id = logcontext.current_request_id()
    if request_id and headers is not None:
        headers[REQUEST_ID_HEADER] = request_id


def _header(task, name: str):
    if task.request.headers and name in task.request.headers:
        return task.request.headers[name]
    return task.request.get(name)


def _job_id(task, args, kwargs):
    """The training job a task works on: its ``job_id`` argument, when it has one."""
    if kwargs and "job_id" in kwargs:
        return kwargs["job_id"]
    try:
        params = list(inspect.signature(task.run).parameters)
    except (TypeError, ValueError):
        return None
    if args and params and params[0] == "job_id":
        return args[0]
    return None


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, args=None, kwargs=None, **extra) -> None:
    # tenant-schemas-celery's receiver, connected before this one, has switched the schema.
    tenant = getattr(connection, "tenant", None)
    logcontext.context_start(task=task.name, task_id=task_id)
    logcontext.context_bind(
        request_id=_header(task, REQUEST_ID_HEADER),
        tenant=getattr(tenant, "slug", None)
        if getattr(tenant, "schema_name", "public") != "public"
        else None,
        job_id=_job_id(task, args or (), kwargs or {}),
    )
    _started[task_id] = time.monotonic()
    logger.info("task started")


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **extra) -> None:
    started = _started.pop(task_id, None)
    duration = round(time.monotonic() - started, 3) if started is not None else None
    logger.info("task finished", extra={"state": state, "duration_s": duration})
    logcontext.context_clear()


@signals.worker_ready.connect
def _heartbeat_start(sender=None, **kwargs) -> None:
    global _heartbeat
    queues = sorted(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    _heartbeat = workers.HeartbeatThread(name=sender.hostname, queues=queues, pid=os.getpid())
    _heartbeat.start()
    logger.info("worker ready", extra={"worker": sender.hostname, "queues": queues})


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _usage_flush(**kwargs) -> None:
    # Usage is counted where predictions are answered; a task that counts any writes it at shutdown.
    from tenants.services.usage import usage_flush

    try:
        usage_flush()
    except Exception:  # noqa: BLE001 - at shutdown with the database away: logged, not raised
        logger.exception("usage counts could not be written at shutdown")


@signals.worker_shutdown.connect
def _heartbeat_stop(**kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
