"""Promotion: point an alias at a version; production only past the quality gate, or overridden
by an admin who says why."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict
from inference.models import AliasChange, ModelAlias, ModelVersion
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

GATED_ALIASES = ("production",)


def promotion_figures(*, version: ModelVersion) -> dict:
    """What the production gate weighs: the version's headline score against its own baseline (on
    the same test split) and against the current production version, with the thresholds in force."""
    value, baseline = version.headline_value, version.baseline_value
    current = (
        ModelAlias.objects.filter(model=version.model, alias="production").select_related("version").first()
    )
    production = current.version if current and current.version_id != version.pk else None
    return {
        "metric": version.headline_metric,
        "value": value,
        "baseline": baseline,
        "lift": value - baseline if value is not None and baseline is not None else None,
        "min_lift": settings.SCALPEL_PROMOTION_MIN_LIFT,
        "min_value": settings.SCALPEL_PROMOTION_MIN_METRIC,
        "production_version": production.number if production else None,
        "production_value": production.headline_value if production else None,
        "margin": settings.SCALPEL_PROMOTION_MAX_REGRESSION,
    }


def promotion_problems(*, version: ModelVersion, figures: dict | None = None) -> list[str]:
    """Why promoting this version to production would be a mistake (empty: it passes the gate)."""
    f = figures or promotion_figures(version=version)
    metric, value, baseline = f["metric"] or "score", f["value"], f["baseline"]
    problems = []
    if value is None:
        return ["it has no evaluation result"]
    if value < f["min_value"]:
        problems.append(f"its {metric} {value:.3f} is below the required minimum {f['min_value']:.3f}")
    if baseline is None:
        problems.append("its evaluation has no baseline score to beat")
    elif f["lift"] < f["min_lift"]:
        problems.append(
            f"its {metric} {value:.3f} beats its baseline's {baseline:.3f} by {f['lift']:+.3f}, "
            f"less than the required {f['min_lift']:.3f}"
        )
    current_value = f["production_value"]
    if current_value is not None and value < current_value - f["margin"]:
        problems.append(
            f"its {metric} {value:.3f} is worse than production v{f['production_version']}'s "
            f"{current_value:.3f} by more than the allowed {f['margin']:.3f}"
        )
    return problems


def model_version_promote(
    *,
    version: ModelVersion,
    alias: str = "production",
    actor: Actor | str = "",
    override_reason: str = "",
    note: str = "",
) -> ModelAlias:
    """Point an alias at a version. Production promotions pass the quality gate, or are overridden
    with a reason that the alias history and the audit log keep."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="model.promote")
    if alias not in ModelAlias.ALIASES:
        raise ApplicationError(f"Unknown alias '{alias}': use {' or '.join(ModelAlias.ALIASES)}.")
    override_reason = override_reason.strip()
    figures = promotion_figures(version=version) if alias in GATED_ALIASES else None
    # Asked of overridden promotions too, so that the log tells an override from a promotion that passed.
    problems = promotion_problems(version=version, figures=figures) if figures else []
    if problems and not override_reason:
        raise Conflict(
            f"v{version.number} cannot be promoted to {alias}: "
            + "; ".join(problems)
            + ". An admin may override the gate by giving a reason.",
            code="quality_gate_failed",
            details={**figures, "problems": problems},
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
        overridden = bool(problems)
        AliasChange.objects.create(
            model=version.model, alias=alias, from_version=from_number, to_version=version.number,
            action="promote", actor=str(actor), forced=overridden,
            override_reason=override_reason if overridden else "", note=note,
        )  # fmt: skip
        details = {"alias": alias, "from_version": from_number, "to_version": version.number, "note": note}
        if overridden:
            details |= {"override_reason": override_reason, "problems": problems, "figures": figures}
        audit_record(
            action="model.promoted_over_gate" if overridden else "model.promoted",
            actor=actor,
            obj=version,
            details=details,
        )
    return current
