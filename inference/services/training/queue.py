"""Handing a queued job to the training workers.

The message is sent by task name, so services never import the tasks module (the tasks import the
services): the task's own declaration (queue via ``CELERY_TASK_ROUTES``, limits, retries) applies
on the worker that runs it.
"""

from __future__ import annotations

from celery import current_app
from django.db import connection, transaction
from django_tenants.utils import schema_context

from inference.models import TrainingJob

TRAIN_MODEL_TASK = "inference.tasks.train_model"


def training_job_enqueue(*, job: TrainingJob) -> None:
    """Send the job to a training worker once the current transaction commits (at once outside one)."""
    schema = connection.schema_name

    def send():
        # The schema header travels with the message (tenant-schemas-celery reads the connection).
        with schema_context(schema):
            current_app.send_task(TRAIN_MODEL_TASK, args=[job.pk])

    transaction.on_commit(send)
