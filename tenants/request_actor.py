"""The actor of a signed-in page request, and the client address every record and lockout uses."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from .actors import OPERATOR, USER, Actor
from .selectors import user_role


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: the connection's, or, behind a proxy the operator trusts, the first
    X-Forwarded-For entry (anyone can send that header, so it is ignored unless configured)."""
    if settings.SCALPEL_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def request_actor(request: HttpRequest) -> Actor:
    """A workspace user with their role, or an operator on the public hosts."""
    user = request.user
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return Actor(kind=OPERATOR, name=user.get_username(), ip=client_ip(request))
    return Actor(kind=USER, name=user.get_username(), role=user_role(user), ip=client_ip(request))
