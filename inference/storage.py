"""Where a tenant's files live in storage: every path is built here, under the tenant's prefix."""

from __future__ import annotations

import posixpath
import re

from django.db import connection

_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class UnsafePath(ValueError):
    pass


def tenant_prefix(tenant=None) -> str:
    tenant = tenant or connection.tenant
    if tenant is None or tenant.schema_name == "public":
        raise UnsafePath("Tenant files can only be written inside a tenant's context.")
    return f"tenants/{tenant.pk}"


def tenant_path(*parts: str, tenant=None) -> str:
    """``tenants/<tenant-id>/<parts…>``; each part must be a plain name (no separators, no '..')."""
    for part in parts:
        if not isinstance(part, str) or not _SAFE_PART.match(part) or part in (".", ".."):
            raise UnsafePath(f"Unsafe storage path component: {part!r}")
    prefix = tenant_prefix(tenant)
    path = posixpath.join(prefix, *parts)
    if posixpath.normpath(path) != path or not path.startswith(prefix + "/"):
        raise UnsafePath(f"Storage path escapes the tenant prefix: {path!r}")
    return path


def is_under_tenant(path: str, tenant=None) -> bool:
    prefix = tenant_prefix(tenant) + "/"
    return posixpath.normpath(path) == path and path.startswith(prefix)


def safe_filename(name: str) -> str:
    """A storage-safe version of a user's file name (keeps it recognisable)."""
    base = posixpath.basename(name.replace("\\", "/")) or "upload"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-") or "upload"
    return cleaned[:150]
