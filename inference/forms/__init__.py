"""Forms shared by the tenant admin and the dashboard; each only shapes input for a service."""

from .datasets import DatasetUploadOptionsForm
from .training import TimeBudgetFieldMixin

__all__ = ["DatasetUploadOptionsForm", "TimeBudgetFieldMixin"]
