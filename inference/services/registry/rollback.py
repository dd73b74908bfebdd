"""Moving aliases back: rollback (with its plan) and taking an alias off a model."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict
from inference.models import AliasChange, Model, ModelAlias, ModelVersion
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record


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
