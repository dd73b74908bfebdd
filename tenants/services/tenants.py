"""Writes to the platform's tenant rows: create, suspend, reactivate, and a tenant's first admin."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from core.exceptions import ApplicationError
from tenants.actors import Actor
from tenants.models import Domain, Tenant, TrainingQueue
from tenants.permissions import OWNER
from tenants.validators import InvalidSlug, schema_name_for, validate_tenant_slug

from .audit import audit_record
from .members import user_role_set

# Sent once a suspension has committed, with ``tenant``: the tenant apps stop the tenant's work
# (training jobs). Workers also check the tenant's status themselves, so a suspension written by
# any other path (a queryset update, SQL) stops the work too, at the next progress check.
tenant_suspended = Signal()


class TenantError(ApplicationError):
    """A tenant operation a user asked for that cannot be done, with the reason (and the field at fault)."""


class TenantExists(TenantError):
    code = "tenant_exists"


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.SCALPEL_BASE_DOMAIN}"


def ensure_public_tenant() -> Tenant:
    """The public tenant (operator console, API entry point) with one domain per public host."""
    public, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(), defaults={"slug": "public", "name": "Platform"}
    )
    for index, host in enumerate(settings.SCALPEL_PUBLIC_HOSTS):
        if not Domain.objects.filter(domain=host).exists():
            Domain.objects.create(domain=host, tenant=public, is_primary=index == 0)
    return public


def tenant_create(
    *,
    slug: str,
    name: str | None = None,
    admin_email: str | None = None,
    admin_password: str | None = None,
    actor: Actor | str = "system",
) -> Tenant:
    """Create a tenant: its schema (migrated), its domain and optionally its first admin user."""
    tenant_create_check(slug=slug, admin_email=admin_email, admin_password=admin_password)
    # Creating the tenant runs its schema's migrations; the row and the domain commit together.
    try:
        with transaction.atomic():
            tenant = Tenant(schema_name=schema_name_for(slug), slug=slug, name=name or slug)
            tenant.save(verbosity=0)
            Domain.objects.create(domain=tenant_domain(slug), tenant=tenant, is_primary=True)
            if admin_email:
                tenant_admin_create(tenant=tenant, email=admin_email, password=admin_password)
            audit_record(
                action="tenant.created", actor=actor, tenant=tenant, obj=tenant, details={"slug": slug}
            )
    except IntegrityError as exc:  # another request created the same slug a moment before
        if Tenant.objects.filter(slug=slug).exists():
            raise TenantExists(_exists_message(slug), field="slug") from exc
        raise
    return tenant


def _exists_message(slug: str) -> str:
    return f"A tenant with the slug '{slug}' already exists: choose another slug."


def tenant_create_check(*, slug: str, admin_email: str | None, admin_password: str | None) -> None:
    """Every rule ``tenant_create`` enforces, checked before anything is written (forms call it too)."""
    try:
        validate_tenant_slug(slug)
    except InvalidSlug as exc:
        raise TenantError(str(exc), field="slug") from exc
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(_exists_message(slug), field="slug")
    if bool(admin_email) != bool(admin_password):
        raise TenantError("Give both an admin email and an admin password, or neither.")
    if not admin_email:
        return
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise TenantError(f"'{admin_email}' is not an email address.", field="admin_email") from exc
    user = get_user_model()(username=admin_email, email=admin_email)
    try:
        validate_password(admin_password, user=user)
    except ValidationError as exc:
        raise TenantError(
            "Choose a stronger admin password: " + " ".join(exc.messages), field="admin_password"
        ) from exc


def tenant_admin_create(*, tenant: Tenant, email: str, password: str):
    """The tenant's first user: an owner, with every right inside its workspace (and nothing outside it)."""
    with schema_context(tenant.schema_name):
        user_model = get_user_model()
        if user_model.objects.filter(username=email).exists():
            raise TenantError(f"The tenant '{tenant.slug}' already has a user '{email}'.")
        user = user_model.objects.create_user(username=email, email=email, password=password)
        user_role_set(user=user, role=OWNER)
        return user


def tenant_suspend(*, tenant: Tenant, reason: str = "", actor: Actor | str = "system") -> Tenant:
    """Block a tenant's pages and API calls, cancel its queued training jobs and stop its running ones
    (they register no version). Nothing of its data is touched."""
    tenant.status = Tenant.Status.SUSPENDED
    tenant.status_reason = reason
    tenant.status_changed_at = timezone.now()
    with transaction.atomic():
        tenant.save(update_fields=["status", "status_reason", "status_changed_at"])
        audit_record(
            action="tenant.suspended", actor=actor, tenant=tenant, obj=tenant, details={"reason": reason}
        )
        transaction.on_commit(lambda: tenant_suspended.send(sender=Tenant, tenant=tenant))
    return tenant


def tenant_reactivate(*, tenant: Tenant, actor: Actor | str = "system") -> Tenant:
    tenant.status = Tenant.Status.ACTIVE
    tenant.status_reason = ""
    tenant.status_changed_at = timezone.now()
    with transaction.atomic():
        tenant.save(update_fields=["status", "status_reason", "status_changed_at"])
        audit_record(action="tenant.reactivated", actor=actor, tenant=tenant, obj=tenant)
    return tenant


# What operators set on a tenant besides its status: its name, quotas and prediction logging.
SETTINGS_FIELDS = (
    "name", "max_concurrent_training_jobs", "max_training_jobs_per_day", "max_dataset_rows",
    "rate_limit_per_minute", "prediction_logging", "prediction_log_retention_days", "training_queue",
)  # fmt: skip


def tenant_settings_update(*, tenant: Tenant, values: dict, actor: Actor | str = "system") -> Tenant:
    """Change a tenant's name, quotas, logging or training queue; the audit entry lists each change
    as [before, after]."""
    unknown = sorted(set(values) - set(SETTINGS_FIELDS))
    if unknown:
        raise TenantError(f"These are not tenant settings: {', '.join(unknown)}.")
    if values.get("training_queue", "") not in ("", *TrainingQueue.values):
        raise TenantError(
            f"'{values['training_queue']}' is not a training queue: choose {' or '.join(TrainingQueue.values)}, "
            "or leave it empty to use each base model's queue.",
            field="training_queue",
        )
    changes = {
        field: [getattr(tenant, field), value]
        for field, value in values.items()
        if getattr(tenant, field) != value
    }
    if not changes:
        return tenant
    with transaction.atomic():
        for field, (_, value) in changes.items():
            setattr(tenant, field, value)
        tenant.save(update_fields=list(changes))
        audit_record(action="tenant.quotas_changed", actor=actor, tenant=tenant, obj=tenant, details=changes)
    return tenant
