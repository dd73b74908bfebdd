"""Taking a queued job for this worker, and knowing whether this run still owns it.

A job is claimed with a conditional update (healthchecks' ``sendalerts`` way): of two deliveries of
the same message, one moves the row from ``queued`` to ``running`` and the other finds it taken.
"""

from __future__ import annotations

import os
import socket

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from inference.models import TrainingJob
from tenants.models import Tenant

SUSPENDED_REASON = "Stopped: the workspace was suspended. Nothing was registered."


class JobLost(Exception):
    """This run no longer owns its job: a sweep re-queued it, another worker claimed it, or it ended."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def workspace_suspended() -> bool:
    """Whether the current schema's tenant is suspended, read from its row every time: a suspension
    written by any path (the service, a queryset update, SQL) is seen at the next check."""
    return Tenant.objects.filter(schema_name=connection.schema_name, status=Tenant.Status.SUSPENDED).exists()


def training_job_claim(job_id: int) -> bool:
    """Take a queued job for this worker; False if another delivery (or a cancel) got there first.
    A job of a suspended workspace is cancelled instead."""
    now = timezone.now()
    if workspace_suspended():
        TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.CANCELLED,
            cancel_requested=True,
            finished_at=now,
            error=SUSPENDED_REASON,
            error_code="tenant_suspended",
        )
        return False
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
