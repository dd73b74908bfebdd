"""Sign-ins: every login form's lockout answer (django-axes), and the audit entries of sign-ins.

Attempts are counted per username and address in the schema of the host signed in to (axes' tables
exist in every schema), so one workspace's failures never lock out the same email in another.
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connection
from django.shortcuts import render
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from .actors import OPERATOR, USER, Actor
from .request_actor import client_ip
from .services.audit import audit_record


class SignInProtectionBackend(AxesStandaloneBackend):
    """Refuses a locked-out username and address before any password is checked.

    ``authenticate()`` without a request comes from code (a shell, a test client's ``login``), never
    from a login form, and has no address to count against: it is let through to the password check.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def attempted_username(request, credentials: dict | None = None) -> str | None:
    """The username an attempt was for, as attempts are counted: case and spaces ignored."""
    source = credentials if credentials else getattr(request, "POST", {})
    username = source.get(settings.AXES_USERNAME_FORM_FIELD) if source else None
    return username.strip().lower() if isinstance(username, str) else None


def retry_at(*, username: str | None, ip: str | None):
    """When a locked-out username may try again from this address."""
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=ip)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return (last or timezone.now()) + settings.AXES_COOLOFF_TIME


def lockout_response(request, original_response=None, credentials: dict | None = None):
    """The answer to a locked-out sign-in, on every login form: what happened and when to retry."""
    username = attempted_username(request, credentials)
    when = retry_at(username=username, ip=client_ip(request))
    seconds = max(1, math.ceil((when - timezone.now()).total_seconds()))
    response = render(
        request,
        "registration/locked_out.html",
        {
            "username": username,
            "retry_at": when,
            "minutes": max(1, math.ceil(seconds / 60)),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def _actor(request, username: str | None) -> Actor:
    public = connection.schema_name == get_public_schema_name()
    return Actor(
        kind=OPERATOR if public else USER,
        name=(username or "(no username)")[:150],
        ip=client_ip(request) if request is not None else None,
    )


def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action="auth.login", actor=_actor(request, user.get_username()), obj=user.get_username())


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(
            action="auth.logout", actor=_actor(request, user.get_username()), obj=user.get_username()
        )


def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = attempted_username(request, credentials)
    audit_record(
        action="auth.login_failed",
        actor=_actor(request, username),
        obj=username or "",
        details={"refused_while_locked_out": bool(getattr(request, "axes_locked_out", False))},
    )


def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    audit_record(
        action="auth.locked_out",
        actor=_actor(request, username),
        obj=username or "",
        ip=ip_address,
        details={"failures": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": _minutes()},
    )


def _minutes() -> float:
    return settings.AXES_COOLOFF_TIME.total_seconds() / 60


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="audit-login")
    user_logged_out.connect(_logged_out, dispatch_uid="audit-logout")
    user_login_failed.connect(_login_failed, dispatch_uid="audit-login-failed")
    user_locked_out.connect(_locked_out, dispatch_uid="audit-locked-out")
