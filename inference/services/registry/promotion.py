"""Promotion: point an alias at a version, production only past the evaluation gates."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from inference.models import AliasChange, ModelAlias, ModelVersion
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record


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
