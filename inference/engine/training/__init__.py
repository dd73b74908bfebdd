"""Training: plan a run from the data, then train with a progress-yielding generator."""

from .gradient import ends_an_epoch
from .plan import HYPERPARAMETERS, METHODS, TrainingPlan, validate_hyperparameters
from .session import TrainingSession

__all__ = [
    "HYPERPARAMETERS",
    "METHODS",
    "TrainingPlan",
    "TrainingSession",
    "ends_an_epoch",
    "validate_hyperparameters",
]
