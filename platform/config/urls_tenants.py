"""URLs on a tenant's host: its own admin, its dashboard, and the API."""

from django.urls import include, path

from inference.admin import tenant_admin_site

urlpatterns = [
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("inference.api.urls")),
    path("", include("inference.dashboard.urls")),
]

handler404 = "tenants.api_errors.json_not_found"
handler500 = "tenants.api_errors.json_server_error"
