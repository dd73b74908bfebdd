"""Two-factor sign-in: a user enrols an authenticator app and is asked for a code after the password;
an owner can require it for the workspace, an operator for the console."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from tenants.models import AuditEntry
from tests.support import ROLE_PASSWORD

HOST = "alpha.localhost"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def _unthrottle(tenant, device: TOTPDevice) -> None:
    """As if the next code were typed a while later: a wrong code slows the next try down (django-otp's
    throttling), and a code is accepted once, so the same 30-second code cannot be used twice."""
    with tenant_context(tenant):
        device.refresh_from_db()
        device.throttling_failure_count = 0
        device.throttling_failure_timestamp = None
        device.last_t = -1
        device.save()


def _sign_in(email: str, host: str = HOST, path: str = "/accounts/login/") -> Client:
    client = Client(HTTP_HOST=host)
    assert client.post(path, {"username": email, "password": ROLE_PASSWORD}).status_code == 302
    return client


def test_a_user_enrols_and_is_then_asked_for_a_code_after_the_password(workspace_user, tenant_a):
    email = workspace_user("member")
    client = _sign_in(email)
    page = client.get("/accounts/two-factor/").content.decode()
    assert "<svg" in page and re.search(r'id="otp-secret">[A-Z2-7 ]{20,}<', page)
    with tenant_context(tenant_a):
        device = TOTPDevice.objects.get(user__username=email, confirmed=False)
    wrong = client.post(
        "/accounts/two-factor/", {"token": "000000" if _code(device) != "000000" else "111111"}
    )
    assert "does not match" in wrong.content.decode()
    _unthrottle(tenant_a, device)
    assert client.post("/accounts/two-factor/", {"token": _code(device)}).status_code == 302
    assert AuditEntry.objects.filter(
        tenant=tenant_a, action="auth.two_factor_enrolled", object_repr=email
    ).exists()

    # The next sign-in stops at the code.
    again = _sign_in(email)
    held = again.get("/datasets/")
    assert held.status_code == 302 and held["Location"].startswith("/accounts/two-factor/verify/")
    assert again.post("/accounts/two-factor/verify/", {"token": "12345"}).status_code == 400
    _unthrottle(tenant_a, device)
    code = _code(device)
    passed = again.post("/accounts/two-factor/verify/", {"token": code, "next": "/datasets/"})
    assert passed.status_code == 302 and passed["Location"] == "/datasets/"
    assert again.get("/datasets/").status_code == 200


def test_an_owner_requires_two_factor_and_members_without_it_must_enrol(workspace_user, tenant_a):
    email = workspace_user("viewer")
    owner = Client(HTTP_HOST=HOST)
    owner.post("/accounts/login/", {"username": "admin@alpha.example", "password": "pass-alpha-7391"})
    viewer = _sign_in(email)
    refused = viewer.post("/team/sign-in-policy/", {"require_two_factor": "on"}, follow=True)
    assert "Your role (viewer) cannot" in refused.content.decode()
    tenant_a.refresh_from_db()
    assert not tenant_a.require_two_factor
    owner.post("/team/sign-in-policy/", {"require_two_factor": "on"})
    tenant_a.refresh_from_db()
    assert tenant_a.require_two_factor
    sent = _sign_in(email).get("/models/")
    assert sent.status_code == 302 and sent["Location"] == "/accounts/two-factor/"
    assert AuditEntry.objects.filter(tenant=tenant_a, action="tenant.security_changed").count() == 1


def test_an_operator_requires_two_factor_for_the_console(db):
    get_user_model().objects.create_superuser(username="ops@platform.example", password=ROLE_PASSWORD)
    operator = _sign_in("ops@platform.example", host="localhost", path="/admin/login/")
    assert operator.post("/admin/security/", {"require_two_factor": "on"}).status_code == 302
    held = _sign_in("ops@platform.example", host="localhost", path="/admin/login/").get("/admin/")
    assert held.status_code == 302 and held["Location"] == "/accounts/two-factor/"
    entry = AuditEntry.objects.get(action="console.security_changed")
    assert entry.tenant is None and entry.actor == "operator:ops@platform.example"
