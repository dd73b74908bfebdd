"""The audit log: one function records every state change, whoever makes it and through whatever door.

Entries are written in the caller's transaction, so a change that rolls back leaves no entry and an
entry never describes a change that did not happen. They are never edited or deleted (the model, its
queryset and a database trigger refuse it); a tenant's entries go only with the tenant itself.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django_tenants.utils import get_public_schema_name

from tenants.actors import Actor, as_actor
from tenants.models import AuditEntry, Tenant

# Every action the log knows, with the words the dashboard and the console show for it. An action
# not listed here is refused, so a typo fails in tests rather than writing an entry nobody filters on.
ACTIONS: dict[str, str] = {
    # sign-in
    "auth.login": "signed in",
    "auth.login_failed": "failed to sign in",
    "auth.locked_out": "was locked out after repeated failed sign-ins",
    "auth.logout": "signed out",
    "auth.password_reset_requested": "asked for a password reset link",
    "auth.password_set": "set a new password",
    "auth.two_factor_enrolled": "turned on two-factor sign-in",
    "auth.two_factor_removed": "turned off two-factor sign-in",
    # team
    "member.added": "added a member",
    "member.invited": "invited a member",
    "member.joined": "accepted an invitation",
    "member.role_changed": "changed a member's role",
    "member.removed": "removed a member",
    # data and models
    "dataset.uploaded": "uploaded a dataset version",
    "dataset.exported": "downloaded a dataset version",
    "dataset.deleted": "deleted a dataset",
    "dataset.version_deleted": "deleted a dataset version",
    "feedback.applied": "added corrections to a dataset",
    "training.started": "started a training job",
    "training.cancelled": "cancelled a training job",
    "model.promoted": "promoted a model version",
    "model.promoted_over_gate": "promoted a model version over its quality checks",
    "model.rolled_back": "rolled a model back",
    "model.alias_removed": "took an alias off a model",
    "model.version_deleted": "deleted a model version",
    "model.deleted": "deleted a model",
    "batch.created": "started a batch prediction",
    "batch.cancelled": "cancelled a batch prediction",
    "batch.deleted": "deleted a batch prediction and its files",
    "webhook.created": "registered a webhook endpoint",
    "webhook.deleted": "deleted a webhook endpoint",
    # keys
    "api_key.created": "created an API key",
    "api_key.revoked": "revoked an API key",
    # the tenant and the platform
    "tenant.created": "created the workspace",
    "tenant.suspended": "suspended the workspace",
    "tenant.reactivated": "reactivated the workspace",
    "tenant.quotas_changed": "changed the workspace's quotas",
    "tenant.security_changed": "changed the workspace's sign-in policy",
    "tenant.exported": "exported the workspace's data",
    "tenant.deleted": "deleted a workspace",
    "base_model.registered": "registered a base model",
    "console.security_changed": "changed the console's sign-in policy",
    "demo.seeded": "added the demo's sample data and started training on it",
}

_CURRENT = object()  # "the tenant whose schema this connection is in"


def audit_record(
    *,
    action: str,
    actor: Actor | str | None,
    tenant: Tenant | None | object = _CURRENT,
    obj: Model | str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one state change.

    ``tenant`` defaults to the tenant of the connection's current schema (none on the public schema);
    ``obj`` is the changed object (a model instance, or a description); ``ip`` defaults to the actor's.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to tenants.services.audit.ACTIONS")
    actor = as_actor(actor)
    if tenant is _CURRENT:
        tenant = _current_tenant()
    object_type = object_id = object_repr = ""
    if isinstance(obj, Model):
        object_type = obj._meta.label_lower
        object_id = str(obj.pk or "")
        object_repr = str(obj)
    elif obj is not None:
        object_repr = str(obj)
    return AuditEntry.objects.create(
        tenant=tenant,
        actor_kind=actor.kind,
        actor=str(actor)[:200],
        ip_address=ip or actor.ip,
        action=action,
        object_type=object_type,
        object_id=object_id[:100],
        object_repr=object_repr[:300],
        details=details or {},
    )


def _current_tenant() -> Tenant | None:
    if connection.schema_name == get_public_schema_name():
        return None
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant):
        return tenant
    # schema_context() (commands, workers) sets a stand-in without the row: find the row by schema.
    return Tenant.objects.filter(schema_name=connection.schema_name).first()


def audit_tenant_purge(*, tenant: Tenant) -> int:
    """Delete every entry of a tenant that is being deleted; the only way an entry ever goes.

    The database trigger lets a DELETE through only while ``scalpel.audit_purge`` is on, which is set
    here for this transaction alone.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('scalpel.audit_purge', 'on', true)")
        cursor.execute("DELETE FROM public.tenants_auditentry WHERE tenant_id = %s", [tenant.pk])
        deleted = cursor.rowcount
        cursor.execute("SELECT set_config('scalpel.audit_purge', 'off', true)")
    return deleted
