"""The one table of who may do what: each role holds the rights of the roles below it, a key acts
with its scopes, and a key never gets a scope its creator's role lacks."""

from __future__ import annotations

import pytest

from core.exceptions import ApplicationError
from tenants.actors import Actor, system_actor
from tenants.error_bodies import status_of
from tenants.permissions import (
    PERMISSIONS,
    ROLES,
    PermissionDenied,
    actor_may,
    key_scopes_check,
    permission_check,
    role_allows,
    roles_grantable,
    scopes_of_role,
)


def user(role: str | None) -> Actor:
    return Actor(kind="user", name=f"{role}@x.example", role=role)


def test_each_role_holds_every_right_of_the_roles_below_it():
    for action in PERMISSIONS:
        allowed = [role_allows(role, action) for role in ROLES]
        assert allowed == sorted(allowed), action  # once allowed, allowed for every higher role


def test_the_table_of_the_issue():
    assert [a for a in PERMISSIONS if role_allows("viewer", a)] == ["read"]
    member = {a for a in PERMISSIONS if role_allows("member", a)}
    assert {"dataset.upload", "training.start", "predict", "api_key.create"} <= member
    assert not member & {"model.promote", "model.rollback", "api_key.manage", "member.manage", "model.delete"}
    admin_only = {a for a in PERMISSIONS if role_allows("admin", a)} - member
    assert {
        "model.promote",
        "model.rollback",
        "api_key.manage",
        "member.manage",
        "model.delete",
    } <= admin_only
    owner_only = {a for a in PERMISSIONS if role_allows("owner", a) and not role_allows("admin", a)}
    assert owner_only == {"tenant.export", "tenant.delete_data", "tenant.security"}


def test_a_refusal_says_which_role_is_needed_and_is_a_403():
    with pytest.raises(PermissionDenied) as refused:
        permission_check(actor=user("member"), action="model.promote")
    assert "admin role" in refused.value.message and status_of(refused.value) == 403
    with pytest.raises(PermissionDenied, match="no role"):
        permission_check(actor=user(None), action="read")


def test_operators_and_the_system_are_not_bound_by_roles():
    assert all(actor_may(system_actor("cli"), a) for a in PERMISSIONS)
    assert all(actor_may(Actor(kind="operator", name="ops"), a) for a in PERMISSIONS)


def test_an_api_key_acts_with_its_scopes():
    key = Actor(kind="api_key", name="abcd1234", scopes=("predict", "train"))
    assert actor_may(key, "training.start") and not actor_may(key, "model.promote")
    with pytest.raises(ApplicationError) as refused:
        permission_check(actor=key, action="dataset.upload")
    assert refused.value.code == "insufficient_scope" and refused.value.details["required_scope"] == "data"
    # No key manages keys or members, whatever its scopes.
    with pytest.raises(PermissionDenied, match="API keys cannot"):
        permission_check(actor=Actor(kind="api_key", name="x", scopes=("admin",)), action="member.manage")


@pytest.mark.parametrize(
    ("role", "scopes"),
    [
        ("viewer", []),
        ("member", ["read", "predict", "data", "train"]),
        ("admin", ["read", "predict", "data", "train", "admin"]),
    ],
)
def test_the_scopes_a_role_may_give_a_key(role, scopes):
    assert scopes_of_role(role) == scopes


def test_a_member_cannot_give_a_key_the_admin_scope_and_a_viewer_no_key_at_all():
    key_scopes_check(actor=user("member"), scopes=["predict", "train"])
    with pytest.raises(PermissionDenied, match="admin scope") as refused:
        key_scopes_check(actor=user("member"), scopes=["predict", "admin"])
    assert refused.value.field == "scopes"
    with pytest.raises(PermissionDenied):
        key_scopes_check(actor=user("viewer"), scopes=["read"])
    key_scopes_check(actor=system_actor("cli"), scopes=["admin"])


def test_who_may_give_which_role():
    assert roles_grantable(user("owner")) == list(ROLES)
    assert roles_grantable(user("admin")) == ["viewer", "member", "admin"]
    assert roles_grantable(user("member")) == []
