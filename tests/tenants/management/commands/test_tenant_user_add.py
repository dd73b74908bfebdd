"""`tenant_user_add SLUG EMAIL --role R [--password P]`: adds a user who can sign in, or invites one
(the link is printed and emailed); an existing user gets the new role."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.models import AuditEntry
from tenants.selectors import user_role


def _run(*args) -> str:
    out = StringIO()
    call_command("tenant_user_add", *args, stdout=out)
    return out.getvalue()


def test_with_a_password_the_user_signs_in_with_that_role(tenant_a):
    out = _run("alpha", "analyst@alpha.example", "--role", "viewer", "--password", "analyst-pass-7391")
    assert "Added analyst@alpha.example in 'alpha' as viewer." in out
    client = Client(HTTP_HOST="alpha.localhost")
    assert (
        client.post(
            "/accounts/login/", {"username": "analyst@alpha.example", "password": "analyst-pass-7391"}
        ).status_code
        == 302
    )
    entry = AuditEntry.objects.get(
        tenant=tenant_a, action="member.added", object_repr="analyst@alpha.example"
    )
    assert (entry.actor_kind, entry.actor, entry.details) == ("system", "cli", {"role": "viewer"})


def test_without_a_password_an_invitation_link_is_printed(
    tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.SCALPEL_TENANT_URL = "https://{slug}.scalpel.example"
    with django_capture_on_commit_callbacks(execute=True):
        out = _run("alpha", "invitee@alpha.example", "--role", "member")
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://alpha.scalpel.example/accounts/invitation/")
    assert mail.outbox[-1].to == ["invitee@alpha.example"] and link in mail.outbox[-1].body
    with tenant_context(tenant_a):
        from django.contrib.auth import get_user_model

        assert user_role(get_user_model().objects.get(username="invitee@alpha.example")) == "member"


def test_an_existing_user_gets_the_new_role(tenant_a):
    out = _run("alpha", "admin@alpha.example", "--role", "owner")
    assert "Updated admin@alpha.example" in out and "password is unchanged" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "a@b.example", "--role", "viewer"), "No tenant"),
        (("alpha", "not-an-email", "--role", "viewer", "--password", "long-enough-pass-1"), "not an email"),
        (("alpha", "weak@alpha.example", "--role", "viewer", "--password", "123"), "stronger password"),
    ],
)
def test_refusals_say_what_to_fix(tenant_a, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
