"""The tenant admin: each tenant's own Django admin, living in the tenant's schema."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User


class TenantAdminSite(admin.AdminSite):
    site_header = "Scalpel workspace admin"
    site_title = "Scalpel"
    index_title = "Your workspace"

    def each_context(self, request):
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} · Scalpel"
        return context


tenant_admin_site = TenantAdminSite(name="tenant_admin")
tenant_admin_site.register(User, UserAdmin)
tenant_admin_site.register(Group, GroupAdmin)

# Each area registers its models on the tenant site.
from . import apikeys, datasets, registry, training  # noqa: E402,F401
