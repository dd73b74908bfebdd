"""Handing a queued job to the training workers.

The message is sent by task name, so services never import the tasks module (the tasks import the
services): the task's own declaration (limits, retries) applies on the worker that runs it. The queue
is chosen per job: the tenant's ``training_queue`` when an operator set one, else the base model's
(``training`` for CPU workers, ``training-gpu`` for GPU workers).
"""

from __future__ import annotations

from celery import current_app
from django.db import connection, transaction
from django_tenants.utils import schema_context

from inference.models import TrainingJob
from tenants.selectors import training_queue_for

TRAIN_MODEL_TASK = "inference.tasks.train_model"


def training_job_enqueue(*, job: TrainingJob) -> None:
    """Send the job to a training worker once the current transaction commits (at once outside one)."""
    schema = connection.schema_name
    queue = training_queue_for(tenant=getattr(connection, "tenant", None), base_model_id=job.base_model_id)
    TrainingJob.objects.filter(pk=job.pk).update(queue=queue)
    job.queue = queue

    def send():
        # The schema header travels with the message (tenant-schemas-celery reads the connection).
        with schema_context(schema):
            current_app.send_task(TRAIN_MODEL_TASK, args=[job.pk], queue=queue)

    transaction.on_commit(send)
