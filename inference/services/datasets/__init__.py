"""Writes to a tenant's labelled data: create a dataset, import a file or rows as a new version, export.

The admin, the dashboard and the API all call these functions, so every rule about uploads (size,
row quota, declared labels, what makes a version trainable) is written once, here or in the engine.
A version is immutable: every change makes a new one.
"""

from .create import dataset_create
from .delete import DeletionPlan, dataset_delete, dataset_deletion_plan, dataset_version_delete
from .files import content_hash, dataset_version_export
from .reports import DatasetError, DatasetUploadError
from .uploads import dataset_upload, dataset_upload_preview
from .versions import dataset_version_append

__all__ = [
    "DatasetError", "DatasetUploadError", "DeletionPlan", "content_hash", "dataset_create", "dataset_delete",
    "dataset_deletion_plan", "dataset_upload", "dataset_upload_preview", "dataset_version_append", "dataset_version_delete",
    "dataset_version_export",
]  # fmt: skip
