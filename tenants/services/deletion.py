"""Deleting a tenant for good: its schema, its rows in the public schema, its stored and cached files
and its Redis keys; and the list of what will go, shown before anyone confirms.

The tenant apps know what their schema holds and what they keep outside it (cached copies of model
artifacts): they answer ``tenant_contents`` with counts and act on ``tenant_deleting``, so this
module never imports them.
"""

from __future__ import annotations

import logging
import posixpath

import redis
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.dispatch import Signal
from django_tenants.utils import get_public_schema_name

from tenants import generations
from tenants.actors import Actor
from tenants.models import ApiKey, AuditEntry, IdempotencyRecord, Tenant, UsageDay
from tenants.redis_client import request_path_redis

from .audit import audit_record
from .tenants import TenantError

logger = logging.getLogger("scalpel.tenants")

# Receivers get ``tenant`` and return a dict of what the tenant app holds for it ({label: count or names}).
tenant_contents = Signal()
# Receivers get ``tenant`` before its schema is dropped and remove what they keep outside it.
tenant_deleting = Signal()


def tenant_storage_prefix(tenant: Tenant) -> str:
    """Where the tenant's files live in storage (``inference.storage`` builds every path under it)."""
    return f"tenants/{tenant.pk}"


def _storage_files(prefix: str) -> list[tuple[str, int]]:
    """Every file under ``prefix`` in storage, with its size (walked without recursion)."""
    found, folders = [], [prefix]
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        folders += [posixpath.join(folder, name) for name in subfolders]
        for name in files:
            path = posixpath.join(folder, name)
            found.append((path, default_storage.size(path)))
    return found


def tenant_redis_patterns(tenant: Tenant) -> list[str]:
    """The tenant's Redis keys: rate-limit windows (its own and its keys'), its registry counter."""
    key_prefixes = ApiKey.objects.filter(tenant=tenant).values_list("prefix", flat=True)
    return [
        f"rl:t:{tenant.pk}:*",
        *(f"rl:k:{prefix}:*" for prefix in key_prefixes),
        generations.registry_counter(tenant.schema_name),
    ]


def redis_keys_matching(patterns: list[str]) -> list[bytes]:
    client = request_path_redis()
    return [key for pattern in patterns for key in client.scan_iter(match=pattern, count=500)]


def tenant_deletion_summary(*, tenant: Tenant) -> dict:
    """What deleting the tenant removes: the tenant apps' data, files, and its platform rows."""
    summary: dict = {}
    for _receiver, found in tenant_contents.send(sender=Tenant, tenant=tenant):
        summary.update(found or {})
    files = _storage_files(tenant_storage_prefix(tenant))
    summary.update(
        {
            "files": len(files),
            "file_bytes": sum(size for _, size in files),
            "domains": list(tenant.domains.values_list("domain", flat=True)),
            "api_keys": ApiKey.objects.filter(tenant=tenant).count(),
            "usage_rows": UsageDay.objects.filter(tenant=tenant).count(),
            "audit_entries": AuditEntry.objects.filter(tenant=tenant).count(),
        }
    )
    return summary


def tenant_delete(*, tenant: Tenant, actor: Actor | str = "system") -> dict:
    """Delete the tenant and everything of it; returns what went (``tenant_deletion_summary``)."""
    if tenant.schema_name == get_public_schema_name():
        raise TenantError("The platform's own tenant cannot be deleted.")
    connection.set_schema_to_public()
    summary = tenant_deletion_summary(tenant=tenant)
    patterns = tenant_redis_patterns(tenant)
    prefix, slug = tenant_storage_prefix(tenant), tenant.slug
    tenant_deleting.send(sender=Tenant, tenant=tenant)  # cached copies: they would only be fetched again
    with transaction.atomic():
        # Drops the schema; the public rows that point at the tenant cascade (keys, usage, domains,
        # idempotency records) and its audit entries are purged (``signals``).
        IdempotencyRecord.objects.filter(tenant=tenant).delete()
        tenant.delete(force_drop=True)
        audit_record(
            action="tenant.deleted", actor=actor, tenant=None, obj=f"tenant {slug}",
            details={"slug": slug, "removed": {k: v for k, v in summary.items() if k != "domains"}},
        )  # fmt: skip
    # Files and Redis keys once the rows are gone for sure: a failed deletion keeps a working tenant.
    for path, _size in _storage_files(prefix):
        default_storage.delete(path)
    _remove_empty_folders(prefix)
    try:
        keys = redis_keys_matching(patterns)
        if keys:
            request_path_redis().delete(*keys)
    except redis.RedisError:  # rate-limit windows expire within a minute; the counter is harmless
        logger.warning("could not delete the Redis keys of deleted tenant %s", slug, exc_info=True)
    generations.bump(generations.API_KEYS)
    return summary


def _remove_empty_folders(prefix: str) -> None:
    """Filesystem storage leaves folders behind; object stores have none."""
    import shutil

    try:
        root = default_storage.path(prefix)
    except NotImplementedError:
        return
    shutil.rmtree(root, ignore_errors=True)
