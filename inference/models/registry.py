"""The model registry: models, immutable numbered versions, aliases and their history."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .datasets import TASK_CHOICES


class Model(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    task = models.CharField(max_length=20, choices=TASK_CHOICES)
    description = models.TextField(blank=True)
    # Highest version number ever given, so a deleted version's number is never handed out again:
    # alias history refers to versions by number.
    last_version_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Alerts on the overview: the answers' label mix moved this far (total variation distance, 0-1)
    # from the evaluation's, or the mean confidence fell below this, over the last 7 days.
    drift_threshold = models.FloatField(default=0.25)
    confidence_floor = models.FloatField(default=0.5)
    # Log this model's predictions (inputs and answers) for the review queue, kept this many days.
    prediction_logging = models.BooleanField(default=False)
    prediction_log_retention_days = models.PositiveIntegerField(default=30)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    artifact_path = models.CharField(max_length=500, help_text="Storage prefix of the artifact files.")
    artifact_manifest = models.JSONField(default=dict)
    artifact_checksum = models.CharField(max_length=64, help_text="SHA-256 of the manifest.")
    artifact_bytes = models.PositiveBigIntegerField(default=0)
    labels = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)  # the full evaluation
    headline_metric = models.CharField(max_length=30, blank=True)
    headline_value = models.FloatField(null=True, blank=True)
    baseline_value = models.FloatField(null=True, blank=True)
    dataset_version = models.ForeignKey(
        "inference.DatasetVersion", on_delete=models.PROTECT, related_name="model_versions"
    )
    dataset_hash = models.CharField(max_length=64)
    base_model_id = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    hyperparameters = models.JSONField(default=dict)
    library_versions = models.JSONField(default=dict)
    runtime = models.CharField(max_length=20, default="torch")  # torch | onnx | onnx-int8
    runtime_info = models.JSONField(default=dict, blank=True)
    training_job = models.ForeignKey(
        "inference.TrainingJob", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="model_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.number}"


class ModelAlias(models.Model):
    ALIASES = ("production", "staging")

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=20, choices=[(a, a) for a in ALIASES])
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "alias"], name="model_alias_unique")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.alias} → v{self.version.number}"


class AliasChange(models.Model):
    """History of promotions and rollbacks: who moved which alias from which version to which."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="alias_changes")
    alias = models.CharField(max_length=20)
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField(null=True, blank=True)
    action = models.CharField(max_length=20)  # promote | rollback
    actor = models.CharField(max_length=200, blank=True)
    forced = models.BooleanField(default=False)  # promoted although the quality gate refused
    override_reason = models.TextField(blank=True)  # why an admin overrode the gate
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.alias}: v{self.from_version} → v{self.to_version}"
