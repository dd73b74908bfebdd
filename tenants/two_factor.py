"""Two-factor sign-in (TOTP, django-otp): enrolment, the check after the password, and the policy.

A user who enrolled a device is asked for a code after every password sign-in. A workspace whose
owners require two-factor (``Tenant.require_two_factor``; on the public row, the operators' choice
for the console) sends every signed-in user without a device to enrolment first.
"""

from __future__ import annotations

import django_otp
from django.db import connection, transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import get_public_schema_name

from core.exceptions import ApplicationError
from tenants.actors import Actor, as_actor
from tenants.models import Tenant
from tenants.permissions import PermissionDenied, permission_check

from .request_actor import request_actor
from .services.audit import audit_record

DEVICE_NAME = "authenticator app"
# Pages a signed-in user still waiting for their second factor may open.
OPEN_PATHS = ("/accounts/two-factor/", "/accounts/logout/", "/admin/logout/", "/static/", "/api/")


def two_factor_device(*, user, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).first()


def two_factor_enrol_begin(*, user) -> TOTPDevice:
    """The device being set up: a new secret to scan, kept until it is confirmed with a code."""
    device = two_factor_device(user=user, confirmed=False)
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def two_factor_enrol_confirm(*, request, token: str) -> TOTPDevice:
    """Confirm the device with a code from the app; the session counts as verified from now on."""
    user = request.user
    device = two_factor_device(user=user, confirmed=False)
    if device is None:
        raise ApplicationError("Start the set-up again: scan the new code.", code="two_factor_not_started")
    if not device.verify_token((token or "").strip().replace(" ", "")):
        raise ApplicationError(
            "That code does not match: type the 6 digits your app shows now.",
            field="token",
            code="invalid_code",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()  # one device per user
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(action="auth.two_factor_enrolled", actor=_self(request), obj=user.get_username())
    django_otp.login(request, device)
    return device


def two_factor_verify(*, request, token: str) -> None:
    """The second step of a sign-in: a current code from the user's device."""
    device = two_factor_device(user=request.user)
    if device is None or not device.verify_token((token or "").strip().replace(" ", "")):
        raise ApplicationError(
            "That code does not match: type the 6 digits your app shows now.",
            field="token",
            code="invalid_code",
        )
    django_otp.login(request, device)


def two_factor_remove(*, request) -> None:
    """Turn two-factor off for oneself (refused where the workspace requires it)."""
    if two_factor_required():
        raise PermissionDenied("This workspace requires two-factor sign-in: it cannot be turned off.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=request.user).delete()
        audit_record(action="auth.two_factor_removed", actor=_self(request), obj=request.user.get_username())


def tenant_security_set(*, tenant: Tenant, require_two_factor: bool, actor: Actor | str) -> Tenant:
    """Require (or stop requiring) two-factor sign-in: a workspace's owners, or operators for the console."""
    actor = as_actor(actor)
    console = tenant.schema_name == get_public_schema_name()
    if console and not actor.is_trusted:
        raise PermissionDenied("Only operators set the console's sign-in policy.")
    permission_check(actor=actor, action="tenant.security")
    with transaction.atomic():
        tenant.require_two_factor = require_two_factor
        tenant.save(update_fields=["require_two_factor"])
        audit_record(
            action="console.security_changed" if console else "tenant.security_changed",
            actor=actor,
            tenant=None if console else tenant,
            details={"require_two_factor": require_two_factor},
        )
    return tenant


def _self(request) -> Actor:
    return request_actor(request)


def two_factor_required() -> bool:
    """Whether the workspace (or, on the public schema, the console) requires two-factor sign-in."""
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant):
        return False
    # Read from the row: the public tenant is kept in memory by the host middleware.
    return Tenant.objects.filter(pk=tenant.pk, require_two_factor=True).exists()


class TwoFactorMiddleware:
    """Sends a signed-in user who owes a code to the code page, and one who must enrol to enrolment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(OPEN_PATHS):  # before request.user is read: the API has no session user
            return self.get_response(request)
        user = getattr(request, "user", None)
        owes_code = user is not None and user.is_authenticated and not user.is_verified()
        if owes_code:
            if two_factor_device(user=user) is not None:
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('two-factor-verify')}?{query}")
            if two_factor_required():
                return redirect(reverse("two-factor-enrol"))
        return self.get_response(request)
