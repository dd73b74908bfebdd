"""Sign-in protection on every login form: after repeated wrong passwords a username is locked out
from that address, with a message naming when to retry; other addresses and other workspaces are not;
every attempt is in the audit log."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from tenants.models import AuditEntry
from tests.support import ROLE_PASSWORD

FORMS = {
    "dashboard": ("alpha.localhost", "/accounts/login/"),
    "tenant admin": ("alpha.localhost", "/admin/login/"),
    "operator console": ("localhost", "/admin/login/"),
}


@pytest.fixture
def account(db, tenant_a, workspace_user):
    """(host, path, email) of a sign-in form and a user who may sign in through it."""

    def make(form: str):
        host, path = FORMS[form]
        if form == "operator console":
            get_user_model().objects.create_superuser(username="ops@platform.example", password=ROLE_PASSWORD)
            return host, path, "ops@platform.example"
        return host, path, workspace_user("admin")

    return make


def _try(client: Client, path: str, email: str, password: str, **extra):
    return client.post(path, {"username": email, "password": password}, **extra)


@pytest.mark.parametrize("form", list(FORMS))
def test_five_wrong_passwords_lock_the_user_out_from_that_address(account, settings, form):
    host, path, email = account(form)
    client = Client(HTTP_HOST=host)
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _try(client, path, email, "wrong-password").status_code == 200, attempt  # the form again
    locked = _try(client, path, email, "wrong-password")
    assert locked.status_code == 429
    # The right password is refused too while the lock lasts, with the time to retry.
    again = _try(client, path, email, ROLE_PASSWORD)
    assert again.status_code == 429
    page = again.content.decode()
    assert "Too many failed sign-ins" in page and "Try again after" in page and "UTC" in page
    assert 14 * 60 <= int(again["Retry-After"]) <= 15 * 60
    assert "_auth_user_id" not in client.session
    # From another address the same user signs in.
    other = Client(HTTP_HOST=host)
    assert _try(other, path, email, ROLE_PASSWORD, REMOTE_ADDR="198.51.100.23").status_code == 302


def test_the_lock_ends_after_the_cool_off(account, tenant_a):
    host, path, email = account("dashboard")
    client = Client(HTTP_HOST=host)
    for _ in range(5):
        _try(client, path, email, "wrong-password")
    assert _try(client, path, email, ROLE_PASSWORD).status_code == 429
    with tenant_context(tenant_a):
        AccessAttempt.objects.update(
            attempt_time=AccessAttempt.objects.first().attempt_time - timedelta(minutes=16)
        )
    assert _try(client, path, email, ROLE_PASSWORD).status_code == 302


def test_a_lock_in_one_workspace_does_not_lock_the_same_email_in_another(tenant_a, tenant_b, workspace_user):
    email = workspace_user("member", "shared@example.com")
    with schema_context(tenant_b.schema_name):
        from tenants.services.members import member_add

        member_add(email=email, role="member", password=ROLE_PASSWORD)
    alpha = Client(HTTP_HOST="alpha.localhost")
    for _ in range(5):
        _try(alpha, "/accounts/login/", email, "wrong-password")
    assert _try(alpha, "/accounts/login/", email, ROLE_PASSWORD).status_code == 429
    beta = Client(HTTP_HOST="beta.localhost")
    assert _try(beta, "/accounts/login/", email, ROLE_PASSWORD).status_code == 302


def test_sign_ins_failures_and_lockouts_are_audited_in_their_workspace(account, tenant_a):
    host, path, email = account("dashboard")
    client = Client(HTTP_HOST=host)
    assert _try(client, path, email, ROLE_PASSWORD).status_code == 302
    for _ in range(5):
        _try(Client(HTTP_HOST=host), path, email, "wrong-password", REMOTE_ADDR="203.0.113.9")
    entries = AuditEntry.objects.filter(tenant=tenant_a, action__startswith="auth.", object_repr=email)
    actions = Counter(entries.values_list("action", flat=True))
    assert actions == {"auth.login": 1, "auth.login_failed": 5, "auth.locked_out": 1}
    failed = entries.filter(action="auth.login_failed").first()
    assert failed.ip_address == "203.0.113.9" and failed.actor == email


def test_an_operators_failed_sign_in_is_audited_without_a_tenant(account):
    host, path, email = account("operator console")
    _try(Client(HTTP_HOST=host), path, email, "wrong-password")
    entry = AuditEntry.objects.get(action="auth.login_failed", object_repr=email)
    assert entry.tenant is None and entry.actor_kind == "operator"
