"""The team page: an admin invites by email, the invitee sets a password through the link and signs
in with the role given; roles change; members go; the last owner stays; the roles table is shown."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.selectors import user_role

HOST = "alpha.localhost"


def test_an_invitation_goes_by_email_and_its_link_lets_the_invitee_in(
    signed_in, tenant_a, django_capture_on_commit_callbacks
):
    admin = signed_in("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/team/invite/", {"email": "newcomer@alpha.example", "role": "member"})
    assert response.status_code == 302
    body = mail.outbox[-1].body
    link = next(word for word in body.split() if "/accounts/invitation/" in word)
    path = link.split(HOST, 1)[1].split(":8000", 1)[-1] if HOST in link else link
    path = path[path.index("/accounts/") :]
    assert "invited" in admin.get("/team/").content.decode()

    invitee = Client(HTTP_HOST=HOST)
    page = invitee.get(path)
    assert page.status_code == 200 and "newcomer@alpha.example" in page.content.decode()
    mismatch = invitee.post(path, {"password": "a-long-new-password-1", "confirm": "another-one-entirely"})
    assert mismatch.status_code == 400 and "differ" in mismatch.content.decode()
    joined = invitee.post(path, {"password": "a-long-new-password-1", "confirm": "a-long-new-password-1"})
    assert joined.status_code == 302 and joined["Location"] == "/accounts/login/"
    assert (
        invitee.post(
            "/accounts/login/", {"username": "newcomer@alpha.example", "password": "a-long-new-password-1"}
        ).status_code
        == 302
    )
    assert invitee.get("/").status_code == 200
    again = Client(HTTP_HOST=HOST).get(path)
    assert again.status_code == 400 and "already accepted" in again.content.decode()


def test_an_admin_changes_a_role_and_removes_a_member(signed_in, workspace_user, tenant_a):
    email = workspace_user("viewer", "someone@alpha.example")
    admin = signed_in("admin")
    with tenant_context(tenant_a):
        user = get_user_model().objects.get(username=email)
    admin.post(f"/team/{user.pk}/role/", {"role": "member"})
    with tenant_context(tenant_a):
        assert user_role(get_user_model().objects.get(pk=user.pk)) == "member"
    admin.post(f"/team/{user.pk}/remove/")
    with tenant_context(tenant_a):
        assert not get_user_model().objects.filter(pk=user.pk).exists()


def test_the_last_owner_cannot_be_removed_from_the_page(tenant_a):
    owner = Client(HTTP_HOST=HOST)
    owner.post("/accounts/login/", {"username": "admin@alpha.example", "password": "pass-alpha-7391"})
    with tenant_context(tenant_a):
        me = get_user_model().objects.get(username="admin@alpha.example")
    page = owner.post(f"/team/{me.pk}/remove/", follow=True).content.decode()
    assert "only owner and cannot be removed" in page
    with tenant_context(tenant_a):
        assert get_user_model().objects.filter(pk=me.pk).exists()


def test_the_team_page_shows_what_each_role_may_do(signed_in):
    page = signed_in("member").get("/team/").content.decode()
    assert "Roles" in page and "promote model versions" in page and "export all of the workspace" in page
    assert "predict, data, train" in page  # a member's keys may carry these scopes
