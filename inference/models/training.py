"""Training jobs: one fine-tuning run from a dataset version to a model version."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    """The life of work a worker does: training jobs and batch predictions."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrainingJob(models.Model):
    Status = JobStatus

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    dataset_version = models.ForeignKey(
        "inference.DatasetVersion", on_delete=models.PROTECT, related_name="training_jobs"
    )
    model_name = models.SlugField(max_length=100)
    base_model_id = models.CharField(max_length=64)
    method = models.CharField(max_length=10, default="auto")  # as requested: auto or one of METHODS
    resolved_method = models.CharField(max_length=10, blank=True)
    method_reason = models.TextField(blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)  # as requested
    evaluate_on = models.CharField(
        max_length=10, default="auto"
    )  # as requested: auto | test | carved | validation
    # The test set resolved when the job was created: test_source, sizes, seed and a sentence saying so.
    evaluation_plan = models.JSONField(default=dict, blank=True)
    resolved_hyperparameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    time_budget_seconds = models.PositiveIntegerField(default=3 * 3600)
    worker = models.CharField(max_length=200, blank=True)
    queue = models.CharField(max_length=20, blank=True)  # the Celery queue it was last sent to
    device = models.CharField(max_length=20, blank=True)  # what trained it: "cpu" or "cuda:N"
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    model_version = models.OneToOneField(
        "inference.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job {self.pk} → {self.model_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class TrainingJobEvent(models.Model):
    """A line of the job's log, written for the people who started it."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.message[:80]
