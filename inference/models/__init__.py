"""Tenant-schema tables: datasets, training jobs, models and their versions, feedback."""

from .batch import BatchPrediction
from .datasets import Dataset, DatasetUpload, DatasetVersion, Example
from .feedback import Feedback, PredictionLog
from .monitoring import ModelStatsDay
from .registry import AliasChange, Model, ModelAlias, ModelVersion
from .training import TrainingJob, TrainingJobEvent
from .webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AliasChange", "BatchPrediction", "Dataset", "DatasetUpload", "DatasetVersion", "Example", "Feedback", "Model",
    "ModelAlias", "ModelStatsDay", "ModelVersion", "PredictionLog", "TrainingJob", "TrainingJobEvent",
    "WebhookDelivery", "WebhookEndpoint",
]  # fmt: skip
