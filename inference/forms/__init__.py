"""Forms shared by the tenant admin and the dashboard; each only shapes input for a service."""

from .datasets import DatasetUploadOptionsForm
from .training import EVALUATE_ON_CHOICES, TimeBudgetFieldMixin

__all__ = ["EVALUATE_ON_CHOICES", "DatasetUploadOptionsForm", "TimeBudgetFieldMixin"]
