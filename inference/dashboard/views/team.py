"""Team: members and their roles, invitations, role changes, removal, and the workspace's sign-in policy."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from tenants.permissions import PERMISSIONS, ROLE_LABELS, ROLES, role_allows, roles_grantable, scopes_of_role
from tenants.selectors import member_list
from tenants.services.members import member_invite, member_remove, member_role_change
from tenants.two_factor import tenant_security_set

from ..lookups import actor


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", choices=[(r, ROLE_LABELS[r]) for r in ROLES], initial="member")

    def __init__(self, *args, grantable=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, ROLE_LABELS[r]) for r in grantable]


def team_page(request, invite_form: InviteForm | None = None, status: int = 200):
    who = actor(request)
    grantable = roles_grantable(who)
    return render(
        request,
        "dashboard/team.html",
        {
            "nav": "team",
            "members": [
                {"user": user, "role": role, "pending": not user.has_usable_password()}
                for user, role in member_list()
            ],
            "grantable": [(r, ROLE_LABELS[r]) for r in grantable],
            "grantable_names": grantable,
            "form": invite_form or InviteForm(grantable=grantable),
            "rights": role_table(),
            "require_two_factor": request.tenant.require_two_factor,
        },
        status=status,
    )


def role_table() -> list[dict]:
    """The roles section: each right with the roles that hold it, and the key scopes of each role."""
    rows = [
        {"says": rule.says, "roles": [role_allows(role, action) for role in ROLES]}
        for action, rule in PERMISSIONS.items()
    ]
    rows.append(
        {
            "says": "give the keys they create the scopes…",
            "roles": [", ".join(scopes_of_role(role)) or "—" for role in ROLES],
        }
    )
    return rows


@require_POST
def team_invite(request):
    who = actor(request)
    # Any role is accepted here: the service says which ones this actor may give, and why not.
    form = InviteForm(request.POST, grantable=ROLES)
    if not form.is_valid():
        return team_page(request, form, status=400)
    try:
        invitation = member_invite(
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=who,
            base_url=request.build_absolute_uri("/").rstrip("/"),
        )
    except ApplicationError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
        else:  # said above the page: the form is not shown to a role that cannot invite
            messages.error(request, exc.message)
        return team_page(request, form, status=403 if exc.code == "permission_denied" else 400)
    messages.success(
        request, f"Invitation sent to {invitation.user.email}: the link works for a few days, once."
    )
    return redirect("dashboard-team")


def _member_or_404(user_id: int):
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise Http404("No such member.")
    return user


@require_POST
def team_role_change(request, user_id: int):
    user = _member_or_404(user_id)
    try:
        member_role_change(user=user, role=request.POST.get("role", ""), actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} is now {ROLE_LABELS[request.POST['role']].lower()}.")
    return redirect("dashboard-team")


@require_POST
def team_remove(request, user_id: int):
    user = _member_or_404(user_id)
    name = user.username
    try:
        member_remove(user=user, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{name} was removed from the workspace.")
    return redirect("dashboard-team")


@require_POST
def team_security(request):
    try:
        tenant_security_set(
            tenant=request.tenant,
            require_two_factor=request.POST.get("require_two_factor") == "on",
            actor=actor(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        state = "required" if request.tenant.require_two_factor else "optional"
        messages.success(request, f"Two-factor sign-in is now {state} in this workspace.")
    return redirect("dashboard-team")
