"""The workspace's members in the tenant admin: roles changed and members removed through the same
services as the dashboard's team page, which also sends invitations."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import HttpResponseRedirect
from django.urls import reverse

from core.exceptions import ApplicationError
from tenants.permissions import ROLES
from tenants.request_actor import request_actor
from tenants.selectors import user_role
from tenants.services.members import member_remove, member_role_change

from . import tenant_admin_site
from .roles import RoleGate

FIELDS = ["username", "role", "is_active", "last_login", "date_joined"]


def _role_action(role: str):
    def action(model_admin, request, queryset):
        for user in queryset:
            try:
                member_role_change(user=user, role=role, actor=request_actor(request))
            except ApplicationError as exc:
                model_admin.message_user(request, f"{user.username}: {exc.message}", messages.ERROR)
            else:
                model_admin.message_user(request, f"{user.username} is now {role}.")

    action.__name__ = f"make_{role}"
    return admin.action(permissions=["manage"], description=f"Give the selected members the {role} role")(
        action
    )


@admin.register(User, site=tenant_admin_site)
class TeamAdmin(RoleGate, admin.ModelAdmin):
    role_actions = {"manage": "member.manage"}
    list_display = ["username", "role", "is_active", "last_login"]
    search_fields = ["username"]
    fields = FIELDS
    readonly_fields = FIELDS
    actions = [*(_role_action(role) for role in ROLES), "remove"]

    def has_manage_permission(self, request) -> bool:
        return self.role_may(request, "manage")

    def add_view(self, request, form_url="", extra_context=None):
        # A member joins by invitation (a signed link by email), sent from the dashboard's team page.
        return HttpResponseRedirect(reverse("dashboard-team"))

    def has_add_permission(self, request, obj=None) -> bool:
        return self.role_may(request, "manage")

    @admin.display(description="role")
    def role(self, user) -> str:
        return user_role(user) or "—"

    @admin.action(permissions=["manage"], description="Remove the selected members from the workspace")
    def remove(self, request, queryset):
        for user in queryset:
            name = user.username
            try:
                member_remove(user=user, actor=request_actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"{name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{name} was removed.")
