"""API-key authentication: the key alone identifies the tenant; scopes gate each endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, permissions

from core import logcontext
from core.exceptions import ApplicationError

from . import generations, ratelimits
from .actors import API_KEY, Actor
from .models import ApiKey
from .redis_client import request_path_redis
from .request_actor import client_ip
from .services import api_key_check, api_key_digest

LAST_USED_RESOLUTION = timedelta(seconds=60)
SEND_KEY = "Send your API key as 'Authorization: Bearer <key>'."

# Keys with their tenants, by the digest of the secret, valid while no key or tenant has changed
# (see ``generations``). The cached rows are shared by threads: read them, never write them.
_keys = generations.GenerationCache(ttl_seconds=generations.MAX_AGE_SECONDS)


def _usable(key: ApiKey) -> bool:
    return key.revoked_at is None


def api_key_lookup(raw_key: str, *, generation=None) -> ApiKey | None:
    """``api_key_check`` from memory when nothing changed since this process last read the key."""
    return _keys.get_or_load(
        api_key_digest(raw_key),
        generations.API_KEYS,
        lambda: api_key_check(raw_key),
        generation=generation,
        keep=_usable,
    )


@dataclass
class Preflight:
    """What one Redis round trip told a request about a key this process already knew."""

    schema: str
    registry_generation: object
    rate_counts: list | None  # the results of ``ratelimits.count_on``, None if Redis failed


def _preflight(raw_key: str) -> tuple[ApiKey | None, Preflight | None]:
    """The key, and for a key seen before, its counters and rate counts read in ONE round trip.

    Hot path: the keys counter, the tenant's registry counter and the rate-limit counting go to Redis
    together; a cold key is read from the database and counted later, on its own.
    """
    known = _keys.peek(api_key_digest(raw_key))
    if known is None:
        return api_key_lookup(raw_key), None
    schema = known.tenant.schema_name
    pipe = request_path_redis().pipeline(transaction=False)
    generations.read_many([generations.API_KEYS, generations.registry_counter(schema)], pipe)
    ratelimits.count_on(pipe, known)
    try:
        results = pipe.execute()
    except redis.RedisError:
        return api_key_lookup(raw_key, generation=generations.UNKNOWN), None
    keys_generation, registry_generation = generations.values_of(results[:2])
    key = api_key_lookup(raw_key, generation=keys_generation)
    return key, Preflight(schema=schema, registry_generation=registry_generation, rate_counts=results[2:])


@dataclass(frozen=True)
class ApiKeyAuth:
    """``request.auth`` of an API request: the key, and what authentication already read about it."""

    key: ApiKey
    preflight: Preflight | None = None

    @property
    def registry_generation(self):
        """The tenant's registry counter read with the key (None: read it when needed)."""
        return self.preflight.registry_generation if self.preflight else None

    @property
    def rate_counts(self) -> list | None:
        """This request's rate-limit counts, when they were taken with the key (see ``ratelimits.check``)."""
        return self.preflight.rate_counts if self.preflight else None


class ApiClient:
    """The caller of an API request: a key of one tenant, acting with its scopes (a key has no role)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey, ip: str | None = None):
        self.key = key
        self.tenant = key.tenant
        self.actor = Actor(kind=API_KEY, name=key.prefix, scopes=tuple(key.scopes), ip=ip)

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
            raise ApplicationError(SEND_KEY, code="invalid_api_key")
        key, preflight = _preflight(raw_key.strip())
        if key is None:
            raise ApplicationError("This API key is not valid.", code="invalid_api_key")
        now = timezone.now()
        if key.revoked_at is not None:
            raise ApplicationError("This API key has been revoked.", code="invalid_api_key")
        if key.expires_at is not None and key.expires_at <= now:
            raise ApplicationError("This API key has expired.", code="invalid_api_key")
        tenant = key.tenant
        host_tenant = getattr(request._request, "tenant", None)
        if host_tenant is not None and host_tenant.schema_name not in ("public", tenant.schema_name):
            raise ApplicationError("This API key belongs to another workspace.", code="invalid_api_key")
        if tenant.is_suspended:
            raise ApplicationError(
                f"The workspace '{tenant.slug}' is suspended. Contact your platform operator.",
                code="tenant_suspended",
            )
        connection.set_tenant(tenant)
        request._request.tenant = tenant
        logcontext.context_bind(tenant=tenant.slug, key_prefix=key.prefix)
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now  # the cached copy too, so that the next minute's requests skip the write
        # A key's prefix and tenant never change, so what was read and counted for it holds here.
        return ApiClient(key, ip=client_ip(request._request)), ApiKeyAuth(key=key, preflight=preflight)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasApiKey(permissions.BasePermission):
    """A valid key holding the view's ``required_scope`` (``admin`` holds every scope)."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKeyAuth):
            raise ApplicationError(SEND_KEY, code="invalid_api_key")
        key = request.auth.key
        scope = getattr(view, "required_scope", "read")
        if scope not in key.scopes and "admin" not in key.scopes:
            raise ApplicationError(
                f"This API key lacks the '{scope}' scope. Create a key with it, or add it to this key.",
                code="insufficient_scope",
                details={"required_scope": scope, "key_scopes": key.scopes},
            )
        return True
