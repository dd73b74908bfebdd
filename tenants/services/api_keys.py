"""Writes to API keys: create (the raw key is shown once), revoke, and check a raw key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.utils import timezone

from tenants.models import ApiKey, Tenant

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
