"""Reads of the model registry."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from inference.engine.confidence import small_test_warning
from inference.models import AliasChange, Model, ModelAlias, ModelVersion


def model_list() -> QuerySet[Model]:
    return Model.objects.prefetch_related("aliases__version")


def model_get(*, name: str) -> Model | None:
    return Model.objects.filter(name=name).first()


def model_version_list(*, model: Model) -> QuerySet[ModelVersion]:
    return model.versions.order_by("-number")


def model_version_get(*, model: Model, number: int) -> ModelVersion | None:
    return model.versions.filter(number=number).first()


def model_version_interval(*, version: ModelVersion) -> list[float] | None:
    """The headline's 95% confidence interval [low, high]; None for versions evaluated before
    intervals were computed."""
    interval = (version.metrics or {}).get("confidence_interval")
    return list(interval) if interval else None


def model_version_warnings(*, version: ModelVersion) -> list[str]:
    """What to read the version's score with: for now, a test set too small to trust it alone."""
    metrics = version.metrics or {}
    warning = small_test_warning(metrics.get("task") or version.model.task, metrics.get("test_size"))
    return [warning] if warning else []


def model_aliases(*, model: Model) -> dict[str, int]:
    return {
        a.alias: a.version.number for a in ModelAlias.objects.filter(model=model).select_related("version")
    }


def alias_history(*, model: Model) -> QuerySet[AliasChange]:
    return model.alias_changes.all()


def model_version_for_serving(*, name: str, ref: int | str | None = None) -> ModelVersion | None:
    """The version a prediction names, in ONE query (the predict path's hot read), model joined.

    ``ref``: a number, an alias, ``latest``, or nothing (the production version, else the newest).
    None when there is no such model or version; the caller asks again for a precise error.
    """
    versions = ModelVersion.objects.select_related("model").filter(model__name=name)
    if ref is None or ref == "" or ref == "production":  # the default, named or not
        production = ModelAlias.objects.filter(version=OuterRef("pk"), alias="production")
        return (
            versions.annotate(in_production=Exists(production)).order_by("-in_production", "-number").first()
        )
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return versions.filter(number=int(ref)).first()
    if ref == "latest":
        return versions.order_by("-number").first()
    return versions.filter(aliases__alias=ref).first()
