"""The beat task's sweep: running jobs whose worker stopped heart-beating are queued again or ended."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from inference.models import TrainingJob

from .events import job_event
from .queue import training_job_enqueue


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
            moved = _claim_stalled(job).update(
                status=TrainingJob.Status.QUEUED, worker="", progress={"phase": "queued"}
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
