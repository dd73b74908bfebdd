"""Batch predictions: a whole file of texts answered by a worker, results kept in tenant storage."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .training import JobStatus


class BatchPrediction(models.Model):
    Status = JobStatus

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    model = models.ForeignKey("inference.Model", on_delete=models.CASCADE, related_name="batch_predictions")
    # The version resolved when the batch was created: every row is answered by the same one.
    version = models.ForeignKey(
        "inference.ModelVersion", on_delete=models.PROTECT, related_name="batch_predictions"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    input_file = models.CharField(max_length=500)
    input_filename = models.CharField(max_length=300, blank=True)
    input_format = models.CharField(max_length=10)  # csv | tsv | jsonl
    text_column = models.CharField(max_length=200, default="text")
    top_k = models.PositiveIntegerField(null=True, blank=True)
    output_file = models.CharField(max_length=500, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)  # rows without a usable text
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)  # the key that asked, for usage
    api_key_prefix = models.CharField(max_length=16, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"batch {self.pk} → {self.model_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
