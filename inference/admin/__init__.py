"""The tenant admin: each tenant's own Django admin, living in the tenant's schema."""

from django.contrib import admin

from tenants.admin_sites import HostileQuerySafeSite
from tenants.selectors import user_role

from .roles import RoleGate, WorkspaceLoginForm


class TenantAdminSite(HostileQuerySafeSite, admin.AdminSite):
    site_header = "Scalpel workspace admin"
    site_title = "Scalpel"
    index_title = "Your workspace"
    login_form = WorkspaceLoginForm

    def has_permission(self, request):
        # Every user with a role in the workspace may come in; their role decides what they may do.
        return request.user.is_active and user_role(request.user) is not None

    def register(self, model_or_iterable, admin_class=None, **options):
        # Permissions here come from roles only: an admin class that would fall back on Django's
        # per-model permissions (which no workspace user holds) is a mistake caught at start-up.
        if admin_class is None or not issubclass(admin_class, RoleGate):
            raise TypeError(f"{admin_class} must derive from inference.admin.roles.RoleGate")
        return super().register(model_or_iterable, admin_class, **options)

    def each_context(self, request):
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} · Scalpel"
        return context


tenant_admin_site = TenantAdminSite(name="tenant_admin")

# Each area registers its models on the tenant site.
from . import apikeys, datasets, registry, team, training  # noqa: E402,F401
