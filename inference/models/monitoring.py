"""What a live model does, per version and day: traffic, errors, latency, confidence, answers."""

from __future__ import annotations

from django.db import models

# Upper bounds (ms) of the latency histogram's buckets; the last one catches everything slower.
LATENCY_BUCKETS_MS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class ModelStatsDay(models.Model):
    model_name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    texts = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)  # requests that failed after the model was found
    latency_counts = models.JSONField(default=list)  # requests per LATENCY_BUCKETS_MS bucket (+1 over)
    confidence_sum = models.FloatField(default=0)  # of each text's top score
    confidence_n = models.PositiveBigIntegerField(default=0)
    label_counts = models.JSONField(default=dict)  # answers per label (entity types for extraction)

    class Meta:
        ordering = ["model_name", "day", "version"]
        constraints = [
            models.UniqueConstraint(fields=["model_name", "version", "day"], name="model_stats_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version} {self.day}"
