"""Writes to API keys: create (the raw key is shown once), revoke, and check a raw key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tenants.actors import Actor, as_actor
from tenants.models import ApiKey, Tenant
from tenants.permissions import key_scopes_check, permission_check

from .audit import audit_record
from .tenants import TenantError

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
    actor: Actor | str = "system",
) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and never stored.

    A workspace user's key carries only scopes their role holds; an operator's or a command's, any.
    """
    actor = as_actor(actor)
    scopes = list(scopes) if scopes else ["predict", "read"]
    unknown = [s for s in scopes if s not in ApiKey.SCOPES]
    if unknown:
        raise TenantError(
            f"Unknown scope(s) {', '.join(unknown)}: choose from {', '.join(ApiKey.SCOPES)}.", field="scopes"
        )
    key_scopes_check(actor=actor, scopes=scopes)
    if not name or len(name) > 100:
        raise TenantError("Give the key a name of 1–100 characters, so you can recognise it later.")
    if expires_at is not None and expires_at <= timezone.now():
        raise TenantError("The expiry date is in the past: choose a future date or none.")
    prefix = secrets.token_hex(KEY_PREFIX_LEN // 2)
    raw_key = f"scl_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name,
            prefix=prefix,
            key_hash=api_key_digest(raw_key),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
            created_by=str(actor),
        )
        audit_record(
            action="api_key.created", actor=actor, tenant=tenant, obj=key,
            details={"scopes": key.scopes, "expires_at": expires_at.isoformat() if expires_at else None},
        )  # fmt: skip
    return key, raw_key


def api_key_revoke(*, key: ApiKey, actor: Actor | str = "system") -> ApiKey:
    """Revoke a key (effective on its next request). Members may revoke the keys they created."""
    actor = as_actor(actor)
    own = not actor.is_trusted and key.created_by == str(actor)
    permission_check(actor=actor, action="api_key.revoke_own" if own else "api_key.manage")
    if key.revoked_at is None:
        with transaction.atomic():
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(action="api_key.revoked", actor=actor, tenant=key.tenant, obj=key)
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
