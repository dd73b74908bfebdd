"""Training: plan a run from the data, then train with a progress-yielding generator."""

from .plan import HYPERPARAMETERS, METHODS, TrainingPlan, validate_hyperparameters
from .progress import ProgressReading, TrainingProgress, ends_an_epoch, read_progress
from .session import TrainingSession

__all__ = [
    "HYPERPARAMETERS",
    "METHODS",
    "ProgressReading",
    "TrainingPlan",
    "TrainingProgress",
    "TrainingSession",
    "ends_an_epoch",
    "read_progress",
    "validate_hyperparameters",
]
