"""A workspace's team: add, invite (a signed, expiring link), accept, change a role, remove.

Users live in the tenant's schema; these functions work in the schema the connection is in (a
request on the tenant's host, or ``schema_context`` in a command). A role is the auth group of that
name; a user has at most one. The workspace always keeps at least one owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.urls import reverse

from core.exceptions import ApplicationError, Conflict, NotFound
from tenants.actors import Actor, as_actor
from tenants.permissions import OWNER, ROLES, PermissionDenied, permission_check, roles_grantable
from tenants.selectors import user_role

from .audit import audit_record

INVITE_SALT = "scalpel.invitation"


@dataclass(frozen=True)
class Invitation:
    user: object
    url: str


def user_role_set(*, user, role: str) -> None:
    """Give a user exactly one role (no checks: callers check who may)."""
    if role not in ROLES:
        raise ApplicationError(f"Unknown role '{role}': choose {', '.join(ROLES)}.", field="role")
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
    user._scalpel_role = role


def _check_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ApplicationError(f"'{email}' is not an email address.", field="email") from exc
    return email


def _check_password(password: str, user) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(
            "Choose a stronger password: " + " ".join(exc.messages), field="password"
        ) from exc


def _check_grant(actor: Actor, role: str) -> None:
    permission_check(actor=actor, action="member.manage")
    if role not in ROLES:
        raise ApplicationError(f"Unknown role '{role}': choose {', '.join(ROLES)}.", field="role")
    if role not in roles_grantable(actor):
        raise PermissionDenied(
            f"Your role ({actor.role}) cannot give the {role} role: only owners make owners.", field="role"
        )


def member_add(*, email: str, role: str, password: str | None = None, actor: Actor | str = "system"):
    """Add a user with a role and a password; an existing user gets the role (and the password, if given)."""
    actor = as_actor(actor)
    email = _check_email(email)
    _check_grant(actor, role)
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(username=email).first()
        created = user is None
        if created:
            user = user_model(username=email, email=email)
        if password:
            _check_password(password, user)
            user.set_password(password)
            user.is_active = True
        elif created:
            user.set_unusable_password()
            user.is_active = False  # until the invitation is accepted
        user.save()
        previous = None if created else user_role(user)
        user_role_set(user=user, role=role)
        if created:
            audit_record(action="member.added", actor=actor, obj=email, details={"role": role})
        elif previous != role:
            audit_record(
                action="member.role_changed", actor=actor, obj=email, details={"from": previous, "to": role}
            )
    return user


def member_invite(*, email: str, role: str, actor: Actor | str, base_url: str) -> Invitation:
    """Create the invited user (inactive, no password) and email them a signed link that sets a password.

    ``base_url`` is the workspace's address as the invitee will reach it (``http://acme.example.com``).
    """
    actor = as_actor(actor)
    email = _check_email(email)
    _check_grant(actor, role)
    user_model = get_user_model()
    with transaction.atomic():
        existing = user_model.objects.filter(username=email).first()
        if existing is not None and existing.has_usable_password():
            raise Conflict(
                f"{email} is already a member of this workspace.", code="member_exists", field="email"
            )
        user = existing or user_model(username=email, email=email, is_active=False)
        user.set_unusable_password()
        user.save()
        user_role_set(user=user, role=role)
        url = base_url.rstrip("/") + reverse("invitation-accept", kwargs={"token": invitation_token(user)})
        audit_record(action="member.invited", actor=actor, obj=email, details={"role": role})
        transaction.on_commit(lambda: _send_invitation(email=email, role=role, url=url, actor=actor))
    return Invitation(user=user, url=url)


def invitation_token(user) -> str:
    # Bound to the schema, so a link of one workspace opens nothing in another.
    return signing.dumps({"u": user.pk, "s": connection.schema_name}, salt=INVITE_SALT, compress=True)


def _send_invitation(*, email: str, role: str, url: str, actor: Actor) -> None:
    days = settings.SCALPEL_INVITATION_MAX_AGE_DAYS
    who = f"{actor.name} invited you" if actor.kind == "user" else "You are invited"
    send_mail(
        subject="You are invited to a Scalpel workspace",
        message=(
            f"{who} to join a Scalpel workspace as {role}.\n\n"
            f"Choose your password here (the link works for {days} days, once):\n{url}\n"
        ),
        from_email=None,
        recipient_list=[email],
    )


def invitation_user(*, token: str):
    """The user an invitation link is for, or a refusal saying why the link no longer works."""
    max_age = settings.SCALPEL_INVITATION_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=INVITE_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ApplicationError(
            "This invitation has expired: ask whoever invited you to send a new one.",
            code="invitation_invalid",
        ) from exc
    except signing.BadSignature as exc:
        raise ApplicationError("This invitation link is not valid.", code="invitation_invalid") from exc
    user = get_user_model().objects.filter(pk=data.get("u")).first()
    if data.get("s") != connection.schema_name or user is None:
        raise NotFound(
            "This invitation was withdrawn or belongs to another workspace.", code="invitation_invalid"
        )
    if user.has_usable_password():
        raise Conflict("This invitation was already accepted: sign in instead.", code="invitation_used")
    return user


def invitation_accept(*, token: str, password: str, ip: str | None = None):
    """Set the invitee's password and let them in; a link works once."""
    with transaction.atomic():
        user = invitation_user(token=token)
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if user.has_usable_password():
            raise Conflict("This invitation was already accepted: sign in instead.", code="invitation_used")
        _check_password(password, user)
        user.set_password(password)
        user.is_active = True
        user.save()
        audit_record(
            action="member.joined", actor=Actor(kind="user", name=user.username, ip=ip), obj=user.username,
            details={"role": user_role(user)},
        )  # fmt: skip
    return user


def _lock_owners() -> None:
    # Role changes serialise on the owner group's row, so two concurrent demotions cannot both pass
    # the "another owner remains" check.
    Group.objects.select_for_update().get_or_create(name=OWNER)


def _owner_count() -> int:
    return get_user_model().objects.filter(groups__name=OWNER, is_active=True).count()


def _check_may_touch(actor: Actor, user) -> None:
    if user_role(user) == OWNER and not (actor.is_trusted or actor.role == OWNER):
        raise PermissionDenied("Only an owner can change or remove another owner.")


def member_role_change(*, user, role: str, actor: Actor | str):
    actor = as_actor(actor)
    _check_grant(actor, role)
    with transaction.atomic():
        _lock_owners()
        previous = user_role(user)
        _check_may_touch(actor, user)
        if previous == OWNER and role != OWNER and user.is_active and _owner_count() <= 1:
            raise Conflict(
                f"{user.username} is the workspace's only owner: make someone else an owner first.",
                code="last_owner",
            )
        if previous == role:
            return user
        user_role_set(user=user, role=role)
        audit_record(
            action="member.role_changed",
            actor=actor,
            obj=user.username,
            details={"from": previous, "to": role},
        )
    return user


def member_remove(*, user, actor: Actor | str) -> None:
    """Remove a user from the workspace (their account in it goes); never the last owner."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="member.manage")
    with transaction.atomic():
        _lock_owners()
        role = user_role(user)
        _check_may_touch(actor, user)
        if role == OWNER and user.is_active and _owner_count() <= 1:
            raise Conflict(
                f"{user.username} is the workspace's only owner and cannot be removed.", code="last_owner"
            )
        name = user.username
        user.delete()
        audit_record(action="member.removed", actor=actor, obj=name, details={"role": role})
