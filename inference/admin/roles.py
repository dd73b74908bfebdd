"""The tenant admin's permissions come from the workspace's roles (``tenants.permissions``), not from
Django's per-model permissions: the admin shows what the role may do, and the services refuse the rest."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm

from tenants.permissions import actor_may
from tenants.request_actor import request_actor
from tenants.selectors import user_role


def may(request, action: str | None) -> bool:
    return action is not None and actor_may(request_actor(request), action)


class RoleGate:
    """Every tenant-admin ModelAdmin and inline: any role may look, ``role_actions`` say who may change.

    ``role_actions`` maps "add", "change" and "delete" (and the permission names of admin actions,
    checked through ``role_may``) to the action of the permission table that grants it; a name left
    out is granted to nobody.
    """

    role_actions: dict[str, str] = {}

    def has_module_permission(self, request) -> bool:
        return user_role(request.user) is not None

    def has_view_permission(self, request, obj=None) -> bool:
        return user_role(request.user) is not None

    def has_add_permission(self, request, obj=None) -> bool:
        return may(request, self.role_actions.get("add"))

    def has_change_permission(self, request, obj=None) -> bool:
        return may(request, self.role_actions.get("change"))

    def has_delete_permission(self, request, obj=None) -> bool:
        return may(request, self.role_actions.get("delete"))

    def role_may(self, request, permission: str) -> bool:
        """For ``has_<permission>_permission`` of admin actions declared with ``permissions=[...]``."""
        return may(request, self.role_actions.get(permission))


class WorkspaceLoginForm(AuthenticationForm):
    """Any active user of the workspace may sign in (Django's admin form wants a staff flag); what
    they see then follows their role."""
