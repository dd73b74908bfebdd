"""The model registry: versions from finished jobs, aliases, promotion gates, rollback, deletion."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict, NotFound
from inference.engine import artifact
from inference.models import AliasChange, Model, ModelAlias, ModelVersion, TrainingJob
from inference.storage import is_under_tenant, tenant_path
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record


def artifact_store(*, local_dir: str, model_name: str, number: int) -> tuple[str, int]:
    """Copy an artifact directory into storage under the tenant's prefix; returns (prefix, bytes)."""
    prefix = tenant_path("models", model_name, f"v{number}")
    total = 0
    root = Path(local_dir)
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        target = tenant_path("models", model_name, f"v{number}", *rel.split("/"))
        if default_storage.exists(target):
            default_storage.delete(target)
        with path.open("rb") as fh:
            default_storage.save(target, File(fh, name=path.name))
        total += path.stat().st_size
    return prefix, total


def artifact_delete(*, prefix: str, manifest: dict) -> None:
    for rel in [*manifest.get("files", {}), "manifest.json"]:
        path = f"{prefix}/{rel}"
        if default_storage.exists(path):
            default_storage.delete(path)


def manifest_checksum(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


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


def promotion_problems(*, version: ModelVersion) -> list[str]:
    """Why promoting this version to production would be a mistake (empty: safe)."""
    problems = []
    value = version.headline_value
    minimum = settings.SCALPEL_PROMOTION_MIN_METRIC
    if value is None:
        problems.append("it has no evaluation result")
    elif value < minimum:
        problems.append(
            f"its {version.headline_metric} {value:.3f} is below the required minimum {minimum:.3f}"
        )
    current = (
        ModelAlias.objects.filter(model=version.model, alias="production").select_related("version").first()
    )
    margin = settings.SCALPEL_PROMOTION_MAX_REGRESSION
    current_value = current.version.headline_value if current and current.version_id != version.pk else None
    if value is not None and current_value is not None and value < current_value - margin:
        problems.append(
            f"its {version.headline_metric} {value:.3f} is worse than production v{current.version.number}'s "
            f"{current_value:.3f} by more than the allowed {margin:.3f}"
        )
    return problems


def model_version_promote(
    *,
    version: ModelVersion,
    alias: str = "production",
    actor: Actor | str = "",
    force: bool = False,
    note: str = "",
) -> ModelAlias:
    """Point an alias at a version. Production promotions pass the evaluation gates unless forced."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.promote")
    if alias not in ModelAlias.ALIASES:
        raise ApplicationError(f"Unknown alias '{alias}': use {' or '.join(ModelAlias.ALIASES)}.")
    # Asked of forced promotions too, so that the log tells an override from a promotion that passed.
    problems = promotion_problems(version=version) if alias == "production" else []
    if problems and not force:
        raise ApplicationError(
            f"v{version.number} cannot be promoted to production: "
            + "; ".join(problems)
            + ". Promote it with force if you are sure.",
            code="promotion_gate_failed",
            details={"problems": problems},
        )
    with transaction.atomic():
        current = ModelAlias.objects.select_for_update().filter(model=version.model, alias=alias).first()
        from_number = current.version.number if current else None
        if current and current.version_id == version.pk:
            return current
        if current:
            current.version = version
            current.updated_at = timezone.now()
            current.save(update_fields=["version", "updated_at"])
        else:
            current = ModelAlias.objects.create(model=version.model, alias=alias, version=version)
        AliasChange.objects.create(
            model=version.model, alias=alias, from_version=from_number, to_version=version.number,
            action="promote", actor=str(actor), forced=force, note=note,
        )  # fmt: skip
        audit_record(
            action="model.promoted_over_gate" if problems else "model.promoted", actor=actor, obj=version,
            details={"alias": alias, "from_version": from_number, "to_version": version.number, "forced": force,
                     "note": note},
        )  # fmt: skip
    return current


@dataclass(frozen=True)
class RollbackPlan:
    """What rolling an alias back would do: move it from ``current`` to ``target``, or why it cannot."""

    alias: str
    current: ModelVersion | None
    target: ModelVersion | None
    skipped: tuple[int, ...] = ()  # deleted versions passed over on the way back
    problem: str = ""  # set when there is no target


def model_rollback_plan(*, model: Model, alias: str = "production") -> RollbackPlan:
    """Where a rollback of ``alias`` would go now; the rollback itself and every confirmation ask this."""
    current = ModelAlias.objects.filter(model=model, alias=alias).select_related("version").first()
    return _rollback_plan(model=model, alias=alias, current=current)


def _rollback_plan(*, model: Model, alias: str, current: ModelAlias | None) -> RollbackPlan:
    if current is None:
        return RollbackPlan(alias, None, None, problem=f"'{model.name}' has no {alias} version to roll back.")
    number = current.version.number
    # The alias's past as a stack: a promotion pushes, a rollback pops back to where it went. So
    # promote v1, v2, v3 then roll back twice gives v2 then v1, and never forward to v3 again.
    stack: list[int] = []
    for action, to_version in (
        model.alias_changes.filter(alias=alias).order_by("pk").values_list("action", "to_version")
    ):
        if to_version is None:
            continue
        if action == "rollback":
            while stack and stack[-1] != to_version:
                stack.pop()
            if not stack:
                stack.append(to_version)
        else:
            stack.append(to_version)
    existing = {v.number: v for v in model.versions.filter(number__in=stack)}
    skipped: list[int] = []
    for earlier in reversed(stack):
        if earlier == number:  # the top of the stack, or the same version promoted again
            continue
        if earlier in existing:
            return RollbackPlan(alias, current.version, existing[earlier], skipped=tuple(skipped))
        if earlier not in skipped:
            skipped.append(earlier)
    problem = f"'{model.name}' {alias} v{number} has no earlier version to roll back to"
    if skipped:
        problem += f" (the earlier {_numbers(skipped)} {'has' if len(skipped) == 1 else 'have'} been deleted)"
    return RollbackPlan(alias, current.version, None, skipped=tuple(skipped), problem=problem + ".")


def _numbers(numbers: list[int]) -> str:
    return ", ".join(f"v{n}" for n in numbers)


def _locked_alias(*, model: Model, alias: str) -> ModelAlias | None:
    """The alias row with its version, locked until the transaction ends."""
    return (
        ModelAlias.objects.select_for_update()
        .filter(model=model, alias=alias)
        .select_related("version")
        .first()
    )


def model_rollback(*, model: Model, alias: str = "production", actor: Actor | str = "") -> ModelAlias:
    """Move an alias back to the version it pointed at before its latest promotion."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.rollback")
    with transaction.atomic():
        current = _locked_alias(model=model, alias=alias)
        plan = _rollback_plan(model=model, alias=alias, current=current)
        if plan.target is None:
            raise Conflict(plan.problem, code="nothing_to_roll_back")
        current.version = plan.target
        current.updated_at = timezone.now()
        current.save(update_fields=["version", "updated_at"])
        AliasChange.objects.create(
            model=model,
            alias=alias,
            from_version=plan.current.number,
            to_version=plan.target.number,
            action="rollback",
            actor=str(actor),
            note=f"skipped deleted {_numbers(list(plan.skipped))}" if plan.skipped else "",
        )
        audit_record(
            action="model.rolled_back", actor=actor, obj=model,
            details={"alias": alias, "from_version": plan.current.number, "to_version": plan.target.number},
        )  # fmt: skip
    return current


def model_alias_remove(*, model: Model, alias: str, actor: Actor | str = "") -> int:
    """Take an alias off its model (e.g. to retire a model, then delete it); returns the version it
    pointed at. Recorded in the history like any other move."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.rollback")
    if alias not in ModelAlias.ALIASES:
        raise ApplicationError(f"Unknown alias '{alias}': use {' or '.join(ModelAlias.ALIASES)}.")
    with transaction.atomic():
        current = _locked_alias(model=model, alias=alias)
        if current is None:
            raise Conflict(f"'{model.name}' has no {alias} version.", code="no_such_alias")
        number = current.version.number
        current.delete()
        AliasChange.objects.create(
            model=model, alias=alias, from_version=number, to_version=None, action="remove", actor=str(actor)
        )
        audit_record(
            action="model.alias_removed",
            actor=actor,
            obj=model,
            details={"alias": alias, "from_version": number},
        )
    return number


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


def model_versions_compare(*, a: ModelVersion, b: ModelVersion) -> dict:
    """Side-by-side figures of two versions of one model, per label where both have them."""
    if a.model_id != b.model_id:
        raise ApplicationError("Only versions of the same model can be compared.")

    def per_label(v):
        return v.metrics.get("per_label") or v.metrics.get("per_type") or {}

    la, lb = per_label(a), per_label(b)
    rows = []
    for label in sorted(set(la) | set(lb)):
        fa, fb = (la.get(label) or {}).get("f1"), (lb.get(label) or {}).get("f1")
        rows.append(
            {"label": label, "a": fa, "b": fb, "delta": None if fa is None or fb is None else fb - fa}
        )
    return {
        "a": {
            "number": a.number,
            "headline": a.metrics.get("headline"),
            "method": a.method,
            "dataset_hash": a.dataset_hash,
        },
        "b": {
            "number": b.number,
            "headline": b.metrics.get("headline"),
            "method": b.method,
            "dataset_hash": b.dataset_hash,
        },
        "headline_delta": (b.headline_value - a.headline_value)
        if a.headline_value is not None and b.headline_value is not None
        else None,
        "per_label": rows,
    }


def local_artifact_dir(version: ModelVersion) -> str:
    """A local directory holding the version's artifact files, fetched from storage if needed."""
    prefix = version.artifact_path
    if not is_under_tenant(prefix):
        # A row can only ever point into its own tenant's files, whatever is written in it.
        raise NotFound(f"{version} points outside this workspace's files; it will not be loaded.")
    try:
        # Local filesystem storage: read the files where they are.
        return default_storage.path(prefix)
    except NotImplementedError:
        pass
    cache = Path(settings.SCALPEL_ARTIFACT_CACHE_DIR) / version.artifact_checksum
    if not (cache / "manifest.json").exists():
        # Fetched into a folder of its own (several processes of a node share the cache), checked
        # against the manifest, and only then moved into place: the cache holds verified copies only,
        # so a damaged download is fetched again next time instead of failing forever.
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", suffix=".partial", dir=cache.parent))
        try:
            for rel in [*version.artifact_manifest.get("files", {}), "manifest.json"]:
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with default_storage.open(f"{prefix}/{rel}", "rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            artifact.verify(str(tmp))
            try:
                os.replace(tmp, cache)
            except OSError:
                if not (cache / "manifest.json").exists():  # not another process that won the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(cache)
