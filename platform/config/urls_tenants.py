"""URLs on a tenant's host: its own admin, its dashboard, and the API."""

from django.urls import include, path, re_path

from inference.admin import tenant_admin_site
from tenants.api_errors import api_not_found

urlpatterns = [
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("inference.api.urls")),
    path("", include("tenants.two_factor_views")),
    path("", include("inference.dashboard.urls")),
    # Last: any other /api/ URL is a JSON 404, with DEBUG on too (handler404 is skipped then).
    re_path(r"^api/", api_not_found),
]

handler404 = "tenants.api_errors.json_not_found"
handler500 = "tenants.api_errors.outage_or_server_error"
