"""The beat task's sweep: running jobs whose worker stopped heart-beating are queued again or ended;
queued jobs whose message never left or was lost are sent again (``queue.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from inference.models import TrainingJob

from .events import job_event
from .queue import jobs_with_a_message, training_job_enqueue, training_job_send


def recover_stalled_jobs() -> list[tuple[int, str]]:
    """Re-queue, fail or (when cancel was asked) cancel running jobs whose worker stopped heart-beating."""
    timeout = settings.SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS
    stale_before = timezone.now() - timezone.timedelta(seconds=timeout)
    outcomes = []
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING, heartbeat_at__lt=stale_before):
        if job.cancel_requested:
            # The user asked to stop it: training it again would undo their cancel.
            reason = "Cancelled by a user (the worker stopped before it could finish cancelling)."
            if _end_stalled(job, TrainingJob.Status.CANCELLED, reason, "cancelled", level="warning"):
                outcomes.append((job.pk, "cancelled"))
        elif job.attempts < settings.SCALPEL_JOB_MAX_ATTEMPTS:
            # heartbeat_at: when it was queued again (the resend rule below counts from there).
            moved = _claim_stalled(job).update(
                status=TrainingJob.Status.QUEUED,
                worker="",
                progress={"phase": "queued"},
                heartbeat_at=timezone.now(),
            )
            if moved:
                job_event(
                    job,
                    f"The worker {job.worker} stopped responding (attempt {job.attempts} of "
                    f"{settings.SCALPEL_JOB_MAX_ATTEMPTS}); the job was queued again.",
                    level="warning",
                )
                training_job_enqueue(job=job)
                outcomes.append((job.pk, "requeued"))
        else:
            reason = (
                f"The worker running this job stopped responding {job.attempts} time(s) (it may have run out of "
                "memory or been restarted). Try again; if it keeps failing, use a smaller batch size or the 'lora' method."
            )
            if _end_stalled(job, TrainingJob.Status.FAILED, reason, "worker_lost", level="error"):
                outcomes.append((job.pk, "failed"))
    return outcomes


def resend_unsent_jobs() -> list[int]:
    """Send again the queued jobs of this schema whose message never left (the send failed), or that
    have waited ``SCALPEL_JOB_RESEND_SECONDS`` with no message in the broker (lost with a Redis
    restart, or acknowledged by a worker that could not reach the database)."""
    schema = connection.schema_name
    stale_before = timezone.now() - timezone.timedelta(seconds=settings.SCALPEL_JOB_RESEND_SECONDS)
    not_sent, waiting = [], []
    for job in TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED):
        if (job.progress or {}).get("not_sent"):
            not_sent.append(job)
        elif (job.heartbeat_at or job.created_at) < stale_before:
            waiting.append(job)
    jobs_in_broker = jobs_with_a_message() if waiting else None
    lost = [job for job in waiting if jobs_in_broker is not None and (schema, job.pk) not in jobs_in_broker]
    sent = []
    for job in not_sent + lost:
        if job in lost:
            job_event(
                job,
                "Its message to the training workers was lost (the broker restarted, or the "
                "database was away when it was delivered); it was sent again.",
                level="warning",
            )
        # Cleared first: a send that fails again sets the note again.
        TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
            progress={"phase": "queued"}, heartbeat_at=timezone.now()
        )
        if training_job_send(job=job, schema=schema):
            if job not in lost:
                job_event(job, "Handed to the training workers.")
            sent.append(job.pk)
    return sent


def _claim_stalled(job: TrainingJob):
    """The job's row, only while it is still the stalled run we looked at (another sweep may act first)."""
    return TrainingJob.objects.filter(
        pk=job.pk, status=TrainingJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
    )


def _end_stalled(job: TrainingJob, status: str, reason: str, code: str, *, level: str) -> bool:
    moved = _claim_stalled(job).update(
        status=status, error=reason, error_code=code, finished_at=timezone.now()
    )
    if moved:
        job_event(job, reason, level=level)
    return bool(moved)
