"""The model registry: versions from finished jobs, aliases, promotion gates, rollback, deletion.

A package by topic; every public name is importable from here.
"""

from .artifacts import artifact_delete, artifact_store, local_artifact_dir, manifest_checksum
from .comparison import model_versions_compare
from .promotion import model_version_promote, promotion_figures, promotion_problems
from .rollback import RollbackPlan, model_alias_remove, model_rollback, model_rollback_plan
from .versions import (
    model_delete,
    model_deletion_refusal,
    model_version_create,
    model_version_delete,
    model_version_deletion_refusal,
    model_version_number_next,
)

__all__ = [
    "RollbackPlan",
    "artifact_delete",
    "artifact_store",
    "local_artifact_dir",
    "manifest_checksum",
    "model_alias_remove",
    "model_delete",
    "model_deletion_refusal",
    "model_rollback",
    "model_rollback_plan",
    "model_version_create",
    "model_version_delete",
    "model_version_deletion_refusal",
    "model_version_number_next",
    "model_version_promote",
    "model_versions_compare",
    "promotion_figures",
    "promotion_problems",
]
