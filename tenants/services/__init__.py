"""Writes to the platform tables (public schema). Admin actions, commands and the API all call these."""

from .api_keys import KEY_PREFIX_LEN, api_key_check, api_key_create, api_key_digest, api_key_revoke
from .audit import ACTIONS as AUDIT_ACTIONS
from .audit import audit_record, audit_tenant_purge
from .deletion import tenant_delete, tenant_deletion_summary
from .tenants import (
    SETTINGS_FIELDS,
    TenantError,
    TenantExists,
    ensure_public_tenant,
    tenant_admin_create,
    tenant_create,
    tenant_create_check,
    tenant_domain,
    tenant_reactivate,
    tenant_settings_update,
    tenant_suspend,
)
from .usage import usage_buffer_stats, usage_flush, usage_record, usage_record_texts

__all__ = [
    "SETTINGS_FIELDS",    "AUDIT_ACTIONS", "audit_record", "audit_tenant_purge", "KEY_PREFIX_LEN", "TenantError", "TenantExists", "api_key_check", "api_key_create", "api_key_digest",
    "api_key_revoke", "ensure_public_tenant", "tenant_admin_create", "tenant_create", "tenant_create_check",
    "tenant_domain", "tenant_reactivate", "tenant_settings_update", "tenant_suspend", "usage_buffer_stats", "usage_flush",
    "usage_record", "usage_record_texts", "tenant_delete", "tenant_deletion_summary",
]  # fmt: skip
