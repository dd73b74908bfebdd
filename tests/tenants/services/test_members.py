"""The team services: add, invite with a signed expiring link that works once, change roles, remove;
who may give which role, and a workspace never left without an owner."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django_tenants.utils import tenant_context

from core.exceptions import ApplicationError
from tenants.actors import Actor
from tenants.models import AuditEntry
from tenants.permissions import PermissionDenied
from tenants.selectors import user_role
from tenants.services.members import (
    invitation_accept,
    invitation_user,
    member_add,
    member_invite,
    member_remove,
    member_role_change,
)

OWNER = Actor(kind="user", name="admin@alpha.example", role="owner")
ADMIN = Actor(kind="user", name="adm@alpha.example", role="admin")
BASE = "http://alpha.localhost:8000"


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_an_invitation_is_emailed_and_sets_the_password_once(tenant_a):
    with tenant_context(tenant_a):
        invitation = member_invite(email="New@Alpha.example", role="member", actor=OWNER, base_url=BASE)
        user = invitation.user
        assert (user.username, user.is_active, user.has_usable_password()) == (
            "new@alpha.example",
            False,
            False,
        )
        assert user_role(user) == "member"
    assert invitation.url.startswith(f"{BASE}/accounts/invitation/")
    with tenant_context(tenant_a):
        accepted = invitation_accept(token=_token(invitation.url), password="a-long-new-password-1")
        assert accepted.is_active and accepted.check_password("a-long-new-password-1")
        with pytest.raises(ApplicationError, match="already accepted") as refused:
            invitation_accept(token=_token(invitation.url), password="another-password-22")
        assert refused.value.code == "invitation_used"
    actions = set(
        AuditEntry.objects.filter(tenant=tenant_a, object_repr="new@alpha.example").values_list(
            "action", flat=True
        )
    )
    assert actions == {"member.invited", "member.joined"}


def test_the_invitation_email_carries_the_link(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        invitation = member_invite(email="mail@alpha.example", role="viewer", actor=OWNER, base_url=BASE)
    assert mail.outbox[-1].to == ["mail@alpha.example"] and invitation.url in mail.outbox[-1].body


def test_an_expired_or_tampered_or_foreign_link_is_refused(tenant_a, tenant_b, monkeypatch, settings):
    with tenant_context(tenant_a):
        token = _token(
            member_invite(email="late@alpha.example", role="viewer", actor=OWNER, base_url=BASE).url
        )
        with pytest.raises(ApplicationError, match="not valid"):
            invitation_user(token=token[:-2] + "xx")
        later = time.time() + settings.SCALPEL_INVITATION_MAX_AGE_DAYS * 86400 + 60
        monkeypatch.setattr(signing.time, "time", lambda: later)
        with pytest.raises(ApplicationError, match="expired"):
            invitation_user(token=token)
        monkeypatch.undo()
    with tenant_context(tenant_b), pytest.raises(ApplicationError, match="another workspace"):
        invitation_user(token=token)


def test_a_withdrawn_invitation_no_longer_opens(tenant_a):
    with tenant_context(tenant_a):
        invitation = member_invite(email="gone@alpha.example", role="viewer", actor=OWNER, base_url=BASE)
        member_remove(user=invitation.user, actor=OWNER)
        with pytest.raises(ApplicationError, match="withdrawn"):
            invitation_user(token=_token(invitation.url))


@pytest.mark.parametrize(("actor", "role", "allowed"), [
    (OWNER, "owner", True), (ADMIN, "admin", True), (ADMIN, "owner", False),
    (Actor(kind="user", name="m", role="member"), "viewer", False),
    (Actor(kind="user", name="v", role="viewer"), "viewer", False),
])  # fmt: skip
def test_who_may_give_which_role(tenant_a, actor, role, allowed):
    with tenant_context(tenant_a):
        if allowed:
            assert (
                user_role(
                    member_add(email="x@alpha.example", role=role, password="pw-long-enough-1", actor=actor)
                )
                == role
            )
        else:
            with pytest.raises(PermissionDenied):
                member_add(email="x@alpha.example", role=role, password="pw-long-enough-1", actor=actor)
            assert not get_user_model().objects.filter(username="x@alpha.example").exists()


def test_the_last_owner_can_be_neither_demoted_nor_removed(tenant_a):
    with tenant_context(tenant_a):
        owner = get_user_model().objects.get(username="admin@alpha.example")
        with pytest.raises(ApplicationError, match="only owner") as demoted:
            member_role_change(user=owner, role="admin", actor=OWNER)
        assert demoted.value.code == "last_owner"
        with pytest.raises(ApplicationError, match="only owner"):
            member_remove(user=owner, actor=OWNER)
        second = member_add(email="co@alpha.example", role="owner", password="pw-long-enough-1", actor=OWNER)
        member_role_change(user=owner, role="admin", actor=OWNER)
        assert user_role(owner) == "admin"
        with pytest.raises(ApplicationError, match="only owner"):
            member_remove(user=second, actor=OWNER)


def test_an_admin_cannot_touch_an_owner(tenant_a):
    with tenant_context(tenant_a):
        owner = get_user_model().objects.get(username="admin@alpha.example")
        with pytest.raises(PermissionDenied, match="Only an owner"):
            member_remove(user=owner, actor=ADMIN)
        assert get_user_model().objects.filter(pk=owner.pk).exists()


def test_role_changes_and_removals_are_audited(tenant_a):
    with tenant_context(tenant_a):
        user = member_add(email="temp@alpha.example", role="viewer", password="pw-long-enough-1", actor=OWNER)
        member_role_change(user=user, role="member", actor=ADMIN)
        member_remove(user=user, actor=ADMIN)
    entries = AuditEntry.objects.filter(tenant=tenant_a, object_repr="temp@alpha.example").order_by("pk")
    assert [(e.action, e.details) for e in entries] == [
        ("member.added", {"role": "viewer"}),
        ("member.role_changed", {"from": "viewer", "to": "member"}),
        ("member.removed", {"role": "member"}),
    ]
