"""URLs on the public hosts: the operator console and the API (a key names its tenant)."""

from django.urls import include, path
from django.views.generic import RedirectView

from tenants.admin import operator_site

urlpatterns = [
    path("admin/", operator_site.urls),
    path("api/v1/", include("inference.api.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

handler404 = "tenants.api_errors.json_not_found"
handler500 = "tenants.api_errors.json_server_error"
