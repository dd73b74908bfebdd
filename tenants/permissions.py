"""Who may do what inside a workspace: the one table every service checks, whatever the interface.

A workspace user has one role; each role holds every right of the roles before it in ``ROLES``. An
API key has no role: it acts with its scopes, and each action names the scope a key needs for it
(none: no key may). Operators and the platform itself (commands, workers) are not bound by roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.exceptions import ApplicationError

from .actors import API_KEY, Actor

VIEWER, MEMBER, ADMIN, OWNER = "viewer", "member", "admin", "owner"
ROLES = (VIEWER, MEMBER, ADMIN, OWNER)
ROLE_LABELS = {VIEWER: "Viewer", MEMBER: "Member", ADMIN: "Admin", OWNER: "Owner"}


@dataclass(frozen=True)
class Rule:
    role: str  # the least role that may do it
    scope: str | None  # the scope an API key needs for it; None: no key may
    says: str  # the right, in the words of the docs and of a refusal


PERMISSIONS: dict[str, Rule] = {
    "read": Rule(VIEWER, "read", "see datasets, jobs, models, keys and usage"),
    "predict": Rule(MEMBER, "predict", "try models (the playground) and send corrections"),
    "dataset.upload": Rule(MEMBER, "data", "upload datasets"),
    "dataset.export": Rule(MEMBER, "data", "download dataset versions"),
    "feedback.apply": Rule(MEMBER, "data", "add corrections to a dataset"),
    "training.start": Rule(MEMBER, "train", "start and retry training"),
    "training.cancel": Rule(MEMBER, "train", "cancel training"),
    "api_key.create": Rule(MEMBER, None, "create API keys with the scopes of their role"),
    "api_key.revoke_own": Rule(MEMBER, None, "revoke the API keys they created"),
    "model.promote": Rule(ADMIN, "admin", "promote model versions, overriding the quality checks if need be"),
    "model.rollback": Rule(ADMIN, "admin", "roll models back and take aliases off"),
    "model.delete": Rule(ADMIN, "admin", "delete models and model versions"),
    "dataset.delete": Rule(ADMIN, "admin", "delete datasets and dataset versions"),
    "webhook.manage": Rule(ADMIN, None, "register, test and delete webhook endpoints"),
    "api_key.manage": Rule(ADMIN, None, "revoke anyone's API keys"),
    "member.manage": Rule(ADMIN, None, "invite members, change roles and remove members"),
    "audit.read": Rule(ADMIN, None, "read the audit log"),
    "tenant.export": Rule(OWNER, None, "export all of the workspace's data"),
    "tenant.delete_data": Rule(OWNER, None, "delete the workspace's data"),
    "tenant.security": Rule(OWNER, None, "set the workspace's sign-in policy (two-factor)"),
}

# The least role that holds each key scope: a key never carries a scope its creator's role lacks.
SCOPE_ROLES: dict[str, str] = {
    "read": VIEWER,
    "predict": MEMBER,
    "data": MEMBER,
    "train": MEMBER,
    "admin": ADMIN,
}


class PermissionDenied(ApplicationError):
    """The actor's role (or key) does not hold the right to do this."""

    code = "permission_denied"


def role_at_least(role: str | None, least: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(least)


def role_allows(role: str | None, action: str) -> bool:
    return role_at_least(role, PERMISSIONS[action].role)


def scopes_of_role(role: str | None) -> list[str]:
    """The scopes a key created by this role may carry (none: the role creates no keys)."""
    if not role_allows(role, "api_key.create"):
        return []
    return [scope for scope, least in SCOPE_ROLES.items() if role_at_least(role, least)]


def actor_may(actor: Actor, action: str) -> bool:
    """Whether ``permission_check`` would let ``actor`` do ``action`` (for pages that hide what a role cannot do)."""
    rule = PERMISSIONS[action]
    if actor.is_trusted:
        return True
    if actor.kind == API_KEY:
        return rule.scope is not None and (rule.scope in actor.scopes or "admin" in actor.scopes)
    return role_at_least(actor.role, rule.role)


def permission_check(*, actor: Actor, action: str) -> None:
    """Refuse, with what to do about it, an action the actor may not do."""
    if actor_may(actor, action):
        return
    rule = PERMISSIONS[action]
    if actor.kind == API_KEY:
        if rule.scope is None:
            raise PermissionDenied(
                f"API keys cannot {rule.says}: sign in to the dashboard to do it.",
                details={"action": action},
            )
        raise ApplicationError(
            f"This API key lacks the '{rule.scope}' scope, needed to {rule.says}.",
            code="insufficient_scope",
            details={"required_scope": rule.scope, "key_scopes": list(actor.scopes)},
        )
    if actor.role is None:
        raise PermissionDenied(
            "You have no role in this workspace: ask one of its owners or admins to invite you.",
            details={"action": action},
        )
    raise PermissionDenied(
        f"Your role ({actor.role}) cannot {rule.says}: that needs the {rule.role} role or above. "
        "Ask one of the workspace's admins or owners.",
        details={"action": action, "role": actor.role, "required_role": rule.role},
    )


def key_scopes_check(*, actor: Actor, scopes: list[str]) -> None:
    """A key a user creates carries only scopes that user's role holds."""
    permission_check(actor=actor, action="api_key.create")
    if actor.is_trusted:
        return
    lacking = sorted(set(scopes) - set(scopes_of_role(actor.role)))
    if lacking:
        raise PermissionDenied(
            f"Your role ({actor.role}) cannot create a key with the {', '.join(lacking)} scope(s): "
            f"choose from {', '.join(scopes_of_role(actor.role))}.",
            field="scopes",
            details={"scopes": lacking, "role": actor.role},
        )


def roles_grantable(actor: Actor) -> list[str]:
    """The roles ``actor`` may give to someone: admins up to admin, owners every role."""
    if actor.is_trusted or actor.role == OWNER:
        return list(ROLES)
    if role_allows(actor.role, "member.manage"):
        return [role for role in ROLES if role_at_least(actor.role, role)]
    return []
