"""Password reset by email on the workspace's host: the link sets a new password once; asking is
recorded whether or not the email is known, and says the same either way."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core import mail
from django.test import Client

from tenants.models import AuditEntry
from tests.support import ROLE_PASSWORD

HOST = "alpha.localhost"


def test_a_forgotten_password_is_reset_through_the_emailed_link(workspace_user, tenant_a):
    email = workspace_user("member")
    client = Client(HTTP_HOST=HOST)
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()
    sent = client.post("/accounts/password-reset/", {"email": email})
    assert sent.status_code == 302 and sent["Location"] == "/accounts/password-reset/sent/"
    message = mail.outbox[-1]
    assert message.to == [email]
    link = urlsplit(next(word for word in message.body.split() if "/accounts/password-reset/" in word))
    assert link.hostname == HOST
    form = client.get(link.path, follow=True)  # Django swaps the token for a session-held one
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-secret-42", "new_password2": "brand-new-secret-42"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/password-reset/done/"
    fresh = Client(HTTP_HOST=HOST)
    assert fresh.post("/accounts/login/", {"username": email, "password": ROLE_PASSWORD}).status_code == 200
    assert (
        fresh.post("/accounts/login/", {"username": email, "password": "brand-new-secret-42"}).status_code
        == 302
    )
    reused = client.get(link.path, follow=True)
    assert "expired or was already used" in reused.content.decode()
    actions = list(
        AuditEntry.objects.filter(tenant=tenant_a, object_repr=email).values_list("action", flat=True)
    )
    assert "auth.password_reset_requested" in actions and "auth.password_set" in actions


def test_an_unknown_email_gets_the_same_answer_and_no_mail(tenant_a):
    client = Client(HTTP_HOST=HOST)
    sent = client.post("/accounts/password-reset/", {"email": "nobody@alpha.example"})
    assert sent.status_code == 302 and sent["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []
    entry = AuditEntry.objects.get(tenant=tenant_a, action="auth.password_reset_requested")
    assert entry.details == {"known": False}
