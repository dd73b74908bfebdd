"""Writes to the platform tables. Admin actions, commands and the API all call these."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from .models import ApiKey, BaseModel, Domain, OperatorAuditEntry, Tenant
from .validators import InvalidSlug, schema_name_for, validate_tenant_slug


class TenantError(Exception):
    """A tenant operation a user asked for that cannot be done, with the reason (and the field at fault)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class TenantExists(TenantError):
    pass


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
    actor: str = "system",
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
            OperatorAuditEntry.objects.create(
                tenant=tenant, actor=actor, action="tenant_created", details={"slug": slug}
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
    """A user with full rights inside one tenant's schema (its admin and dashboard)."""
    with schema_context(tenant.schema_name):
        user_model = get_user_model()
        if user_model.objects.filter(username=email).exists():
            raise TenantError(f"The tenant '{tenant.slug}' already has a user '{email}'.")
        return user_model.objects.create_superuser(username=email, email=email, password=password)


def tenant_suspend(*, tenant: Tenant, reason: str = "", actor: str = "system") -> Tenant:
    """Block a tenant's pages and API calls. Nothing of its data is touched."""
    tenant.status = Tenant.Status.SUSPENDED
    tenant.status_reason = reason
    tenant.status_changed_at = timezone.now()
    tenant.save(update_fields=["status", "status_reason", "status_changed_at"])
    OperatorAuditEntry.objects.create(
        tenant=tenant, actor=actor, action="tenant_suspended", details={"reason": reason}
    )
    return tenant


def tenant_reactivate(*, tenant: Tenant, actor: str = "system") -> Tenant:
    tenant.status = Tenant.Status.ACTIVE
    tenant.status_reason = ""
    tenant.status_changed_at = timezone.now()
    tenant.save(update_fields=["status", "status_reason", "status_changed_at"])
    OperatorAuditEntry.objects.create(tenant=tenant, actor=actor, action="tenant_reactivated")
    return tenant


# --- API keys ----------------------------------------------------------------------------

KEY_PREFIX_LEN = 8


def api_key_digest(raw_key: str) -> str:
    # Keys are 256-bit random secrets, so a plain SHA-256 is as strong as a slow hash here and
    # keeps authentication off the hot path's profile.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    created_by: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and never stored."""
    scopes = list(scopes) if scopes else ["predict", "read"]
    unknown = [s for s in scopes if s not in ApiKey.SCOPES]
    if unknown:
        raise TenantError(f"Unknown scope(s) {', '.join(unknown)}: choose from {', '.join(ApiKey.SCOPES)}.")
    if not name or len(name) > 100:
        raise TenantError("Give the key a name of 1–100 characters, so you can recognise it later.")
    if expires_at is not None and expires_at <= timezone.now():
        raise TenantError("The expiry date is in the past: choose a future date or none.")
    prefix = secrets.token_hex(KEY_PREFIX_LEN // 2)
    raw_key = f"scl_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        key_hash=api_key_digest(raw_key),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    return key, raw_key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_check(raw_key: str) -> ApiKey | None:
    """The key a raw secret belongs to (any state), or None when it matches no key."""
    parts = raw_key.split("_")
    if len(parts) < 3 or parts[0] != "scl" or len(parts[1]) != KEY_PREFIX_LEN:
        return None
    key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, api_key_digest(raw_key)):
        return None
    return key


# --- Base models ---------------------------------------------------------------------------


def base_model_ensure_default() -> BaseModel:
    from inference.engine.basemodels import DEFAULT_BASE_MODEL_ID

    model, _ = BaseModel.objects.get_or_create(
        id=DEFAULT_BASE_MODEL_ID,
        defaults={
            "name": "all-MiniLM-L6-v2",
            "description": "Bundled sentence encoder (22M parameters, 6 layers, uncased, English).",
        },
    )
    return model


def base_model_register(*, model_id: str, name: str, path: str, description: str = "") -> BaseModel:
    """Register a local encoder directory after checking that it loads."""
    from inference.engine.basemodels import check_base_model_dir

    try:
        info = check_base_model_dir(path)
    except (ValueError, OSError) as exc:
        raise TenantError(f"The base model at '{path}' cannot be used: {exc}") from exc
    model, _ = BaseModel.objects.update_or_create(
        id=model_id,
        defaults={
            "name": name,
            "path": path,
            "description": description,
            "model_type": info.get("model_type", ""),
            "hidden_size": info.get("hidden_size"),
            "num_layers": info.get("num_layers"),
            "fingerprint": info.get("fingerprint", ""),
        },
    )
    return model
