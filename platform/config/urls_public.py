"""URLs on the public hosts: the operator console and the API (a key names its tenant)."""

from django.urls import include, path, re_path
from django.views.generic import RedirectView

from console.admin import operator_site
from tenants.api_errors import api_not_found

urlpatterns = [
    path("admin/", operator_site.urls),
    path("api/v1/", include("inference.api.urls")),
    path("", include("tenants.two_factor_views")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Last: any other /api/ URL is a JSON 404, with DEBUG on too (handler404 is skipped then).
    re_path(r"^api/", api_not_found),
]

handler404 = "tenants.api_errors.json_not_found"
handler500 = "tenants.api_errors.outage_or_server_error"
