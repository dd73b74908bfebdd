"""Handing a queued job to the training workers, and finding queued jobs whose message is gone.

The message is sent by task name, so services never import the tasks module (the tasks import the
services): the task's own declaration (limits, retries) applies on the worker that runs it. The queue
is chosen per job: the tenant's ``training_queue`` when an operator set one, else the base model's
(``training`` for CPU workers, ``training-gpu`` for GPU workers), and kept on the job.

A job row is never left `queued` without a message for long. The send happens after the commit;
when the broker refuses it (Redis down or frozen), the job stays queued, says so in its progress
(``note``) and events, and the sweep (``sweep.py``, run by beat) sends it again once the broker is
back. A message lost after it was sent (Redis restarted without persistence, a delivery acknowledged
while PostgreSQL was down) is found the same way: a job queued for longer than
``SCALPEL_JOB_RESEND_SECONDS`` with no message in the broker is sent again. Duplicates are harmless:
the claim (``claim.py``) lets one delivery run the job.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from core import outages
from inference.models import TrainingJob
from tenants.models import TrainingQueue
from tenants.selectors import training_queue_for

from .events import job_event

logger = logging.getLogger("scalpel.training")

TRAIN_MODEL_TASK = "inference.tasks.train_model"
NOT_SENT_NOTE = (
    "Queued, but not yet handed to the training workers: the message broker is unavailable. "
    "It is sent again automatically once the broker is back; nothing to do."
)


def training_job_enqueue(*, job: TrainingJob) -> None:
    """Send the job to a training worker once the current transaction commits (at once outside one)."""
    schema = connection.schema_name
    queue = training_queue_for(tenant=getattr(connection, "tenant", None), base_model_id=job.base_model_id)
    TrainingJob.objects.filter(pk=job.pk).update(queue=queue)
    job.queue = queue
    transaction.on_commit(lambda: training_job_send(job=job, schema=schema))


def training_job_send(*, job: TrainingJob, schema: str) -> bool:
    """Send the job's message now; on a broker outage, note it on the job (the sweep sends it later)."""
    try:
        # The schema header travels with the message (tenant-schemas-celery reads the connection).
        with schema_context(schema):
            current_app.send_task(TRAIN_MODEL_TASK, args=[job.pk], queue=job.queue or training_queue_name())
    except (*outages.OUTAGE_ERRORS, OSError) as exc:
        logger.warning(
            "training job %s could not be sent (%s: %s); the sweep sends it again",
            job.pk,
            type(exc).__name__,
            exc,
        )
        # Best effort: with the database away too, the age rule of the sweep still finds the job.
        with contextlib.suppress(Exception), schema_context(schema):
            if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
                progress={"phase": "queued", "note": NOT_SENT_NOTE, "not_sent": True}
            ):
                job_event(job, NOT_SENT_NOTE, level="warning")
        return False
    return True


def training_queue_name() -> str:
    route = settings.CELERY_TASK_ROUTES.get(TRAIN_MODEL_TASK, {})
    return route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)


def jobs_with_a_message() -> set[tuple[str, int]] | None:
    """(schema, job id) of every training message waiting in the broker or taken by a worker and not
    yet acknowledged; None when the broker cannot be read (then nothing is assumed lost)."""
    # kombu's Redis transport: a list per queue (and per priority step), and the "unacked" hash of
    # messages delivered to workers, each [message, exchange, routing key].
    names = [
        name
        for queue in dict.fromkeys([training_queue_name(), *TrainingQueue.values])
        for name in [queue] + [f"{queue}\x06\x16{priority}" for priority in (3, 6, 9)]
    ]
    try:
        with current_app.connection_for_read() as conn:
            client = conn.default_channel.client
            raw = [item for name in names for item in client.lrange(name, 0, -1)]
            raw += [json.loads(item)[0] for item in client.hvals("unacked")]
    except Exception:  # noqa: BLE001 - the broker is away: the next sweep looks again
        logger.warning("the broker could not be read; queued jobs are not checked this time", exc_info=True)
        return None
    found = set()
    for item in raw:
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
            message = json.loads(item) if isinstance(item, str | bytes) else item
            headers = message.get("headers") or {}
            if headers.get("task") != TRAIN_MODEL_TASK:
                continue
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
            found.add((headers.get("_schema_name") or "public", int(args[0])))
    return found
