"""Celery tasks of the tenant app: thin adapters over services (they take ids, never objects).

Each task declares its own limits and retries here; the queue of ``train_model`` is routed by
``CELERY_TASK_ROUTES``. Services send ``train_model`` by name (``services.training.queue``), so
this module imports them and never the other way round.
"""

from __future__ import annotations

import logging

import psycopg
from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from core import outages
from inference.models import Model, PredictionLog
from inference.services import batch
from inference.services.batch import BATCH_PREDICT_TASK
from inference.services.training import claim, run, sweep
from inference.services.training.queue import TRAIN_MODEL_TASK
from inference.services.webhooks import WEBHOOK_DELIVER_TASK, webhook_deliver, webhook_retry_later
from tenants.selectors import tenant_list

logger = logging.getLogger("scalpel.tasks")

# A delivery met by a database outage comes back this often, this many times (then the sweep's
# rule for queued jobs without a message takes over).
CLAIM_RETRY_SECONDS, CLAIM_RETRIES = 5, 60


@shared_task(
    bind=True,
    name=TRAIN_MODEL_TASK,
    acks_late=True,  # safe because the job row is claimed with a conditional update first
    reject_on_worker_lost=True,
    time_limit=settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS + 900,
    soft_time_limit=settings.SCALPEL_TRAINING_TIME_BUDGET_SECONDS + 600,
    max_retries=0,
)
def train_model(self, job_id: int) -> str:
    """Train one job in its tenant's schema (the schema travels in the message headers)."""
    try:
        claimed = claim.training_job_claim(job_id)
    except (DatabaseError, psycopg.Error) as exc:
        if outages.outage_of(exc) is None:
            raise
        # Acknowledged without a retry this delivery would be lost: the job row is still queued.
        logger.warning(
            "training job %s: the database is unavailable (%s); delivered again in %s s",
            job_id,
            type(exc).__name__,
            CLAIM_RETRY_SECONDS,
        )
        connection.close()
        raise self.retry(countdown=CLAIM_RETRY_SECONDS, max_retries=CLAIM_RETRIES) from exc
    if not claimed:
        logger.info("training job %s was already taken, cancelled or finished; skipping", job_id)
        return "skipped"
    run.run_training_job(job_id)
    return "done"


@shared_task(name="inference.tasks.recover_stalled_jobs", time_limit=120, soft_time_limit=100)
def recover_stalled_jobs() -> int:
    """Beat task: in every tenant, re-queue or fail jobs whose worker stopped heart-beating, and send
    again queued jobs whose message never left or was lost."""
    count = 0
    for tenant in tenant_list():
        with tenant_context(tenant):
            count += len(sweep.recover_stalled_jobs())
            count += len(sweep.resend_unsent_jobs())
    return count


@shared_task(name="inference.tasks.purge_prediction_logs", time_limit=600, soft_time_limit=540)
def purge_prediction_logs() -> int:
    """Beat task: delete logged predictions older than each tenant's retention period."""
    deleted = 0
    for tenant in tenant_list():
        now = timezone.now()
        with tenant_context(tenant):
            # A model that logs for the review queue keeps its own period; the rest the workspace's.
            own = dict(
                Model.objects.filter(prediction_logging=True).values_list(
                    "name", "prediction_log_retention_days"
                )
            )
            for name, days in own.items():
                old = PredictionLog.objects.filter(
                    model_name=name, created_at__lt=now - timezone.timedelta(days=days)
                )
                deleted += old.delete()[0]
            cutoff = now - timezone.timedelta(days=tenant.prediction_log_retention_days)
            deleted += (
                PredictionLog.objects.filter(created_at__lt=cutoff).exclude(model_name__in=own).delete()[0]
            )
    return deleted


@shared_task(
    name=BATCH_PREDICT_TASK,
    acks_late=True,  # safe: the batch row is claimed with a conditional update first
    reject_on_worker_lost=True,
    time_limit=settings.SCALPEL_BATCH_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.SCALPEL_BATCH_TIME_LIMIT_SECONDS - 60,
    max_retries=0,
)
def batch_predict(batch_id: int) -> str:
    """Answer one batch prediction file in its tenant's schema."""
    if not batch.batch_prediction_claim(batch_id):
        logger.info("batch %s was already taken, cancelled or deleted; skipping", batch_id)
        return "skipped"
    return batch.batch_prediction_run(batch_id)


@shared_task(name=WEBHOOK_DELIVER_TASK, time_limit=60, soft_time_limit=45, max_retries=0)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failed one schedules the next with a growing delay."""
    retry_in = webhook_deliver(delivery_id)
    if retry_in is None:
        return "settled"
    webhook_retry_later(delivery_id, retry_in)
    return f"retry in {retry_in:.0f}s"
