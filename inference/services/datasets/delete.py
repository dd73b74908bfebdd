"""Deleting a dataset or one of its versions, with what depends on it, refused while a live model needs it.

A dataset version's rows are immutable, but the version itself can go: with it go the model versions
trained on it (a model is made of its data), their training jobs and their files. What is in use is
never deleted: a model version an alias serves, or a job still queued or running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db import transaction

from core.exceptions import Conflict
from inference.models import Dataset, DatasetVersion, Feedback, ModelAlias, ModelVersion, TrainingJob
from inference.services.registry import artifact_delete
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

logger = logging.getLogger(__name__)


@dataclass
class DeletionPlan:
    """What deleting a dataset (or some of its versions) takes with it, and what stops it."""

    versions: list[int]
    examples: int
    model_versions: list[str]  # "intents v3", trained on these versions, deleted with them
    jobs: int  # finished training jobs on these versions, deleted with them
    feedback: int  # corrections applied to these versions (kept, marked not applied)
    files: int  # stored files that go: uploads and model artifacts
    refusals: list[str] = field(default_factory=list)  # each a reason it cannot go now

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def as_dict(self) -> dict:
        return {
            "versions": self.versions,
            "examples": self.examples,
            "model_versions": self.model_versions,
            "training_jobs": self.jobs,
            "feedback": self.feedback,
            "files": self.files,
            "refusals": self.refusals,
        }


def dataset_deletion_plan(*, dataset: Dataset, numbers: list[int] | None = None) -> DeletionPlan:
    """What goes if these versions (all of the dataset's when ``numbers`` is None) are deleted."""
    versions = dataset.versions.all()
    if numbers is not None:
        versions = versions.filter(number__in=numbers)
    versions = list(versions.order_by("number"))
    model_versions = list(
        ModelVersion.objects.filter(dataset_version__in=versions)
        .select_related("model", "dataset_version")
        .order_by("model__name", "number")
    )
    live = (
        ModelAlias.objects.filter(version__in=model_versions)
        .select_related("model", "version__dataset_version")
        .order_by("model__name", "alias")
    )
    refusals = [
        f"'{alias.model.name}' v{alias.version.number} is its {alias.alias} version and was trained on "
        f"{dataset.name} v{alias.version.dataset_version.number}: promote a version trained on other data, "
        "or take the alias off, first."
        for alias in live
    ]
    active = TrainingJob.objects.filter(dataset_version__in=versions, status__in=TrainingJob.ACTIVE)
    refusals += [
        f"Training job #{job.pk} ({job.get_status_display().lower()}) uses {dataset.name} "
        f"v{job.dataset_version.number}: wait for it to finish or cancel it first."
        for job in active.select_related("dataset_version").order_by("pk")
    ]
    return DeletionPlan(
        versions=[v.number for v in versions],
        examples=sum(v.row_count for v in versions),
        model_versions=[f"{mv.model.name} v{mv.number}" for mv in model_versions],
        jobs=TrainingJob.objects.filter(dataset_version__in=versions).count(),
        feedback=Feedback.objects.filter(applied_to__in=versions).count(),
        files=sum(1 for v in versions if v.source_file) + sum(1 for mv in model_versions if mv.artifact_path),
        refusals=refusals,
    )


def dataset_version_delete(*, version: DatasetVersion, actor: Actor | str = "") -> DeletionPlan:
    """Delete one version (and the model versions trained on it); refused while one of them is live."""
    return _delete(dataset=version.dataset, numbers=[version.number], actor=actor)


def dataset_delete(*, dataset: Dataset, actor: Actor | str = "") -> DeletionPlan:
    """Delete a dataset with every version; refused while a model trained on it is live."""
    return _delete(dataset=dataset, numbers=None, actor=actor)


def _delete(*, dataset: Dataset, numbers: list[int] | None, actor: Actor | str) -> DeletionPlan:
    actor = as_actor(actor)
    permission_check(actor=actor, action="dataset.delete")
    with transaction.atomic():
        # The dataset's row lock keeps uploads and new jobs on it out while the plan is checked.
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        plan = dataset_deletion_plan(dataset=dataset, numbers=numbers)
        if not plan.allowed:
            raise Conflict(
                "This data cannot be deleted now. " + " ".join(plan.refusals),
                code="dataset_in_use",
                details=plan.as_dict(),
            )
        versions = DatasetVersion.objects.filter(dataset=dataset, number__in=plan.versions)
        model_versions = ModelVersion.objects.filter(dataset_version__in=versions)
        artifacts = list(model_versions.values_list("artifact_path", "artifact_manifest"))
        uploads = [path for path in versions.values_list("source_file", flat=True) if path]
        whole = numbers is None
        audit_record(
            action="dataset.deleted" if whole else "dataset.version_deleted",
            actor=actor,
            obj=dataset,
            details=plan.as_dict() | {"dataset": dataset.name},
        )
        model_versions.delete()
        TrainingJob.objects.filter(dataset_version__in=versions).delete()
        if whole:
            dataset.delete()
        else:
            versions.delete()

        def delete_files() -> None:
            # Only once the rows are surely gone: a rolled-back delete keeps everything usable.
            for prefix, manifest in artifacts:
                artifact_delete(prefix=prefix, manifest=manifest)
            for path in uploads:
                try:
                    default_storage.delete(path)
                except OSError:
                    logger.warning("Could not delete the dataset file %s", path)

        transaction.on_commit(delete_files)
    return plan
