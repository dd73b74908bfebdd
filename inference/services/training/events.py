"""The job's history as users read it: one line per thing that happened to it."""

from __future__ import annotations

from inference.models import TrainingJob, TrainingJobEvent


def job_event(job: TrainingJob, message: str, level: str = "info") -> TrainingJobEvent:
    return TrainingJobEvent.objects.create(job=job, message=message, level=level)
