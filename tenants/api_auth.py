"""API-key authentication: the key alone identifies the tenant; scopes gate each endpoint."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone
from rest_framework import authentication, permissions

from . import generations
from .api_errors import ApiError
from .models import ApiKey
from .services import api_key_check, api_key_digest

LAST_USED_RESOLUTION = timedelta(seconds=60)

# Keys with their tenants, by the digest of the secret, valid while no key or tenant has changed
# (see ``generations``). The cached rows are shared by threads: read them, never write them.
_keys = generations.GenerationCache(ttl_seconds=60)


def api_key_lookup(raw_key: str) -> ApiKey | None:
    """``api_key_check`` from memory when nothing changed since this process last read the key."""
    return _keys.get_or_load(api_key_digest(raw_key), generations.API_KEYS, lambda: api_key_check(raw_key))


class ApiClient:
    """The caller of an API request: a key of one tenant."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.tenant = key.tenant

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"

    def get_username(self) -> str:
        return str(self)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise ApiError(
                "invalid_api_key", "Send your API key as 'Authorization: Bearer <key>'.", status_code=401
            )
        key = api_key_lookup(raw_key.strip())
        if key is None:
            raise ApiError("invalid_api_key", "This API key is not valid.", status_code=401)
        now = timezone.now()
        if key.revoked_at is not None:
            raise ApiError("invalid_api_key", "This API key has been revoked.", status_code=401)
        if key.expires_at is not None and key.expires_at <= now:
            raise ApiError("invalid_api_key", "This API key has expired.", status_code=401)
        tenant = key.tenant
        host_tenant = getattr(request._request, "tenant", None)
        if host_tenant is not None and host_tenant.schema_name not in ("public", tenant.schema_name):
            raise ApiError("invalid_api_key", "This API key belongs to another workspace.", status_code=401)
        if tenant.is_suspended:
            raise ApiError(
                "tenant_suspended",
                f"The workspace '{tenant.slug}' is suspended. Contact your platform operator.",
                status_code=403,
            )
        connection.set_tenant(tenant)
        request._request.tenant = tenant
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now  # the cached copy too, so that the next minute's requests skip the write
        return ApiClient(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasApiKey(permissions.BasePermission):
    """A valid key holding the view's ``required_scope`` (``admin`` holds every scope)."""

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            raise ApiError(
                "invalid_api_key", "Send your API key as 'Authorization: Bearer <key>'.", status_code=401
            )
        scope = getattr(view, "required_scope", "read")
        if scope not in key.scopes and "admin" not in key.scopes:
            raise ApiError(
                "insufficient_scope",
                f"This API key lacks the '{scope}' scope. Create a key with it, or add it to this key.",
                status_code=403,
                details={"required_scope": scope, "key_scopes": key.scopes},
            )
        return True
