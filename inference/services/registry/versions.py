"""Model versions: registered from finished jobs, numbered, deleted (with their models)."""

from __future__ import annotations

from django.db import transaction

from core.exceptions import Conflict
from inference.models import Model, ModelVersion, TrainingJob
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

from .artifacts import artifact_delete, artifact_store, manifest_checksum


def model_version_create(
    *,
    job: TrainingJob,
    local_dir: str,
    manifest: dict,
    evaluation: dict,
    runtime: str = "torch",
    runtime_info: dict | None = None,
) -> ModelVersion:
    """Register a finished job's artifact and evaluation as the model's next version."""
    dataset = job.dataset_version.dataset
    with transaction.atomic():
        model, _ = Model.objects.select_for_update().get_or_create(
            name=job.model_name, defaults={"task": dataset.task}
        )
        number = model_version_number_next(model=model)
        prefix, size = artifact_store(local_dir=local_dir, model_name=model.name, number=number)
        headline = evaluation.get("headline") or {}
        baseline = (evaluation.get("baseline") or {}).get("headline") or {}
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            artifact_path=prefix,
            artifact_manifest=manifest,
            artifact_checksum=manifest_checksum(manifest),
            artifact_bytes=size,
            labels=manifest.get("labels", []),
            metrics=evaluation,
            headline_metric=headline.get("name", ""),
            headline_value=headline.get("value"),
            baseline_value=baseline.get("value"),
            dataset_version=job.dataset_version,
            dataset_hash=job.dataset_version.content_hash,
            base_model_id=job.base_model_id,
            method=manifest.get("method", job.resolved_method),
            hyperparameters=job.resolved_hyperparameters,
            library_versions=manifest.get("library_versions", {}),
            runtime=runtime,
            runtime_info=runtime_info or {},
            training_job=job,
        )
    return version


def model_version_number_next(*, model: Model) -> int:
    """Take the model's next version number; the caller holds the model row locked (select_for_update).

    Numbers are never reused, even after the newest version is deleted: alias history, feedback
    and prediction logs name versions by number.
    """
    # The newest row counts too, for versions written without this function (fixtures, old data).
    newest = model.versions.order_by("-number").values_list("number", flat=True).first() or 0
    model.last_version_number = max(model.last_version_number, newest) + 1
    model.save(update_fields=["last_version_number"])
    return model.last_version_number


def model_version_deletion_refusal(*, version: ModelVersion) -> str:
    """Why deleting this version now would be refused; empty when it may go."""
    aliases = list(version.aliases.order_by("alias").values_list("alias", flat=True))
    if not aliases:
        return ""
    return (
        f"v{version.number} is the {', '.join(aliases)} version of '{version.model.name}': "
        "promote another version, or take the alias off the model, first."
    )


def model_version_delete(*, version: ModelVersion, actor: Actor | str = "") -> None:
    """Delete a version and its files; a version an alias points at is kept."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.delete")
    refusal = model_version_deletion_refusal(version=version)
    if refusal:
        raise Conflict(refusal, code="version_in_use")
    prefix, manifest = version.artifact_path, version.artifact_manifest
    with transaction.atomic():
        audit_record(action="model.version_deleted", actor=actor, obj=version)
        version.delete()
        # Files go only once the row is surely gone; a rolled-back delete keeps a loadable version.
        transaction.on_commit(lambda: artifact_delete(prefix=prefix, manifest=manifest))


def model_deletion_refusal(*, model: Model) -> str:
    """Why deleting this model now would be refused; empty when it may go."""
    in_use = list(model.aliases.select_related("version").order_by("alias"))
    if not in_use:
        return ""
    serving = ", ".join(f"v{a.version.number} is its {a.alias} version" for a in in_use)
    return (
        f"'{model.name}' cannot be deleted while an alias points at one of its versions: {serving}. "
        "Take the alias off the model first."
    )


def model_delete(*, model: Model, actor: Actor | str = "") -> None:
    """Delete a model with all its versions and their files; a model an alias still serves is kept."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.delete")
    with transaction.atomic():
        model = Model.objects.select_for_update().get(pk=model.pk)
        refusal = model_deletion_refusal(model=model)
        if refusal:
            raise Conflict(refusal, code="model_in_use")
        files = list(model.versions.values_list("artifact_path", "artifact_manifest"))
        audit_record(action="model.deleted", actor=actor, obj=model, details={"versions": len(files)})
        model.delete()

        def delete_files() -> None:
            for prefix, manifest in files:
                artifact_delete(prefix=prefix, manifest=manifest)

        transaction.on_commit(delete_files)
