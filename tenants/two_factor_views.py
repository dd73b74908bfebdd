"""Two-factor pages, the same on a workspace's host and on the console's: set up, and the code step."""

from __future__ import annotations

from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError

from .two_factor import (
    two_factor_device,
    two_factor_enrol_begin,
    two_factor_enrol_confirm,
    two_factor_remove,
    two_factor_required,
    two_factor_verify,
)


def _home(request) -> str:
    return (
        "/admin/" if request.path_info.startswith("/admin") or request.tenant.schema_name == "public" else "/"
    )


@login_required
def enrol(request):
    enrolled = two_factor_device(user=request.user) is not None and request.user.is_verified()
    error = None
    if request.method == "POST":
        try:
            two_factor_enrol_confirm(request=request, token=request.POST.get("token", ""))
        except ApplicationError as exc:
            error = exc.message
        else:
            messages.success(
                request, "Two-factor sign-in is on: you will be asked for a code after your password."
            )
            return redirect(_home(request))
    context = {
        "enrolled": enrolled,
        "error": error,
        "required": two_factor_required(),
        "home": _home(request),
    }
    if not enrolled:
        device = two_factor_enrol_begin(user=request.user)
        context["qr"] = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1f2937")
        context["secret"] = _grouped(device)
    return render(request, "two_factor/enrol.html", context)


def _grouped(device) -> str:
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
def verify(request):
    target = request.POST.get("next") or request.GET.get("next") or _home(request)
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = _home(request)
    error = None
    if request.method == "POST":
        try:
            two_factor_verify(request=request, token=request.POST.get("token", ""))
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect(target)
    return render(
        request, "two_factor/verify.html", {"error": error, "next": target}, status=400 if error else 200
    )


@login_required
@require_POST
def disable(request):
    try:
        two_factor_remove(request=request)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Two-factor sign-in is off.")
    return redirect("two-factor-enrol")


@require_POST
def sign_out(request):
    """Leave the code step (the console's and the dashboard's logout URLs differ; this one is both's)."""
    login_url = "/admin/login/" if request.tenant.schema_name == "public" else "/accounts/login/"
    logout(request)
    return redirect(login_url)


urlpatterns = [
    path("accounts/two-factor/", enrol, name="two-factor-enrol"),
    path("accounts/two-factor/verify/", verify, name="two-factor-verify"),
    path("accounts/two-factor/disable/", disable, name="two-factor-disable"),
    path("accounts/two-factor/sign-out/", sign_out, name="two-factor-sign-out"),
]
