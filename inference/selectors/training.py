"""Reads of training jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from inference.models import TrainingJob


def training_job_list(*, status: str | None = None) -> QuerySet[TrainingJob]:
    jobs = TrainingJob.objects.select_related("dataset_version__dataset", "model_version__model")
    return jobs.filter(status=status) if status else jobs


def training_job_get(*, job_id: int) -> TrainingJob | None:
    return training_job_list().filter(pk=job_id).first()


def training_job_events(*, job: TrainingJob):
    return job.events.all()
