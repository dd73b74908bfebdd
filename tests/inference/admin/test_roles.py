"""Roles in the tenant admin: every member signs in and looks; what they may change follows their role,
as in the dashboard, and the services refuse the rest whatever is posted."""

from __future__ import annotations

from django.test import Client
from django_tenants.utils import tenant_context

from inference.models import DatasetVersion, ModelAlias, TrainingJob
from tenants.models import ApiKey, AuditEntry
from tests.factories import tenant_objects
from tests.support import ROLE_PASSWORD

HOST = "alpha.localhost"


def _admin_client(email: str) -> Client:
    client = Client(HTTP_HOST=HOST)
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": ROLE_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/", "tenant admin login failed"
    return client


def test_a_viewer_signs_in_looks_around_and_changes_nothing(workspace_user, tenant_a):
    objects = tenant_objects(tenant_a, "adm")
    client = _admin_client(workspace_user("viewer"))
    for path in ("/admin/", "/admin/inference/dataset/", "/admin/inference/modelversion/",
                 "/admin/inference/trainingjob/", "/admin/tenants/apikey/", "/admin/auth/user/"):  # fmt: skip
        assert client.get(path).status_code == 200, path
    with tenant_context(tenant_a):
        version = ModelAlias.objects.get(model__name=objects.model, alias="production").version
        v1 = version.model.versions.get(number=1)
        versions_before = DatasetVersion.objects.count()
    baseline = list(AuditEntry.objects.filter(tenant=tenant_a).exclude(action__startswith="auth."))
    # Pages that would add: refused outright.
    for path in (
        "/admin/tenants/apikey/add/",
        "/admin/inference/dataset/upload/",
        "/admin/inference/trainingjob/start/",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/tenants/apikey/add/", {"name": "k", "scopes": ["read"]}).status_code == 403
    # Actions that change: not offered, and refused when posted anyway.
    listing = client.get("/admin/inference/modelversion/").content.decode()
    assert "promote_production" not in listing and "delete_selected" not in listing
    for path, action, pk in (
        ("/admin/inference/modelversion/", "override_promote_production", v1.pk),
        ("/admin/inference/model/", "rollback_production", version.model.pk),
        ("/admin/inference/trainingjob/", "cancel_jobs", objects.job_id),
        ("/admin/auth/user/", "make_owner", 1),
    ):
        client.post(path, {"action": action, "_selected_action": [pk]})
    assert client.post(f"/admin/inference/modelversion/{v1.pk}/delete/", {"post": "yes"}).status_code == 403
    assert list(AuditEntry.objects.filter(tenant=tenant_a).exclude(action__startswith="auth.")) == baseline
    with tenant_context(tenant_a):
        assert ModelAlias.objects.get(model__name=objects.model, alias="production").version == version
        assert TrainingJob.objects.get(pk=objects.job_id).status == "queued"
        assert version.model.versions.filter(number=1).exists()
        assert DatasetVersion.objects.count() == versions_before


def test_a_member_cannot_mint_an_admin_key_in_the_tenant_admin(workspace_user, tenant_a):
    client = _admin_client(workspace_user("member"))
    refused = client.post(
        "/admin/tenants/apikey/add/",
        {"name": "sneaky", "scopes": ["admin"], "expires_at_0": "", "expires_at_1": ""},
    )
    assert refused.status_code == 200  # the form again, with the reason next to the scopes
    assert "cannot create a key with the admin scope" in refused.content.decode()
    assert not ApiKey.objects.filter(tenant=tenant_a, name="sneaky").exists()
    made = client.post(
        "/admin/tenants/apikey/add/",
        {"name": "ok", "scopes": ["predict", "data"], "expires_at_0": "", "expires_at_1": ""},
    )
    assert made.status_code == 302
    assert ApiKey.objects.get(tenant=tenant_a, name="ok").scopes == ["data", "predict"]


def test_an_admin_promotes_and_changes_roles_but_makes_no_owner(workspace_user, tenant_a):
    objects = tenant_objects(tenant_a, "adm2")
    member = workspace_user("member", "colleague@alpha.example")
    client = _admin_client(workspace_user("admin"))
    with tenant_context(tenant_a):
        from django.contrib.auth import get_user_model

        v1 = ModelAlias.objects.get(model__name=objects.model, alias="production").model.versions.get(
            number=1
        )
        colleague = get_user_model().objects.get(username=member)
    client.post(
        "/admin/inference/modelversion/",
        {"action": "promote_production", "_selected_action": [v1.pk]},
    )
    with tenant_context(tenant_a):
        assert ModelAlias.objects.get(model__name=objects.model, alias="production").version_id == v1.pk
    page = client.post(
        "/admin/auth/user/", {"action": "make_owner", "_selected_action": [colleague.pk]}, follow=True
    ).content.decode()
    assert "only owners make owners" in page
    client.post("/admin/auth/user/", {"action": "make_viewer", "_selected_action": [colleague.pk]})
    with tenant_context(tenant_a):
        assert list(colleague.groups.values_list("name", flat=True)) == ["viewer"]
