"""What clients tell us about predictions, and (optionally) the predictions themselves."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Feedback(models.Model):
    model_name = models.CharField(max_length=100, db_index=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    input = models.TextField()
    predicted = models.JSONField(null=True, blank=True)
    correct_label = models.CharField(max_length=200, blank=True)
    correct_labels = models.JSONField(null=True, blank=True)
    correct_entities = models.JSONField(null=True, blank=True)
    api_key_prefix = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Where it came from: api, playground, evaluation (the mistakes list) or review (the queue).
    source = models.CharField(max_length=20, default="api")
    created_by = models.CharField(max_length=200, blank=True)
    # Its label is not one the model knows yet, and its author confirmed adding it.
    new_label = models.BooleanField(default=False)
    dismissed_at = models.DateTimeField(null=True, blank=True)  # set aside; undone by clearing it
    applied_to = models.ForeignKey(
        "inference.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model_name}: {self.input[:60]}"


class PredictionLog(models.Model):
    model_name = models.CharField(max_length=100)
    model_version = models.PositiveIntegerField()
    input = models.TextField()
    output = models.JSONField()
    api_key_prefix = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)  # confirmed, fixed or skipped in the queue

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.model_version}: {self.input[:60]}"
