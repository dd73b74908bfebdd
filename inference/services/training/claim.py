"""Taking a queued job for this worker, and knowing whether this run still owns it.

A job is claimed with a conditional update (healthchecks' ``sendalerts`` way): of two deliveries of
the same message, one moves the row from ``queued`` to ``running`` and the other finds it taken.
"""

from __future__ import annotations

import os
import socket

from django.db.models import F, QuerySet
from django.utils import timezone

from inference.models import TrainingJob


class JobLost(Exception):
    """This run no longer owns its job: a sweep re-queued it, another worker claimed it, or it ended."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def training_job_claim(job_id: int) -> bool:
    """Take a queued job for this worker; False if another delivery (or a cancel) got there first."""
    now = timezone.now()
    return bool(
        TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.RUNNING,
            worker=worker_name(),
            heartbeat_at=now,
            started_at=now,
            attempts=F("attempts") + 1,
            progress={"phase": "starting"},
        )
    )


def owned(job: TrainingJob) -> QuerySet[TrainingJob]:
    """The job's row while this run still owns it: running, claimed by this worker, in this attempt.

    ``job.worker`` and ``job.attempts`` are those read right after the claim and never refreshed,
    so a re-claim (by another worker, or by this one for a later attempt) no longer matches.
    """
    return TrainingJob.objects.filter(
        pk=job.pk, status=TrainingJob.Status.RUNNING, worker=job.worker, attempts=job.attempts
    )
