"""Roles in the dashboard: a viewer can look at everything and change nothing, whatever page they
post to; a member cannot mint a key with scopes their role lacks; a user without a role sees nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from inference.models import DatasetVersion, ModelAlias, TrainingJob
from tenants.models import ApiKey, AuditEntry
from tests.factories import raw_key, tenant_objects

CSV = b"text,label\n" + b"".join(f"row {i} good,pos\nrow {i} bad,neg\n".encode() for i in range(10))


def _changes(tenant) -> list[str]:
    """The audit log's record of state changes (sign-ins aside): what 'nothing changed' is checked on."""
    return list(
        AuditEntry.objects.filter(tenant=tenant)
        .exclude(action__startswith="auth.")
        .values_list("action", flat=True)
    )


def _writes(objects, key_id: int, user_id: int):
    """Every change the dashboard offers: (method, path, data)."""
    m, d = objects.model, objects.dataset
    return [
        ("post", "/datasets/upload/", {"file": SimpleUploadedFile("x.csv", CSV), "name": "fresh", "task": "classification",
                                       "text_column": "text", "label_column": "label", "format": "auto"}),
        ("post", "/training/start/", {"dataset": d, "model_name": "fresh-model", "method": "auto", "base_model": "minilm-l6"}),
        ("post", f"/training/jobs/{objects.job_id}/cancel/", {}),
        ("post", f"/models/{m}/v1/promote/", {"override_reason": "tried"}),
        ("post", f"/models/{m}/rollback/", {}),
        ("post", "/playground/", {"target": f"{m}@", "text": "hello"}),
        ("post", "/api-keys/", {"name": "mine", "scopes": ["read"]}),
        ("post", f"/api-keys/{key_id}/revoke/", {}),
        ("post", "/feedback/apply/", {"feedback": [objects.feedback_id], "dataset": d, "model_name": m}),
        ("get", f"/datasets/{d}/v1/export/csv/", None),
        ("post", "/team/invite/", {"email": "new@alpha.example", "role": "viewer"}),
        ("post", f"/team/{user_id}/role/", {"role": "viewer"}),
        ("post", f"/team/{user_id}/remove/", {}),
        ("post", "/team/sign-in-policy/", {"require_two_factor": "on"}),
        ("get", "/audit/", None),
    ]  # fmt: skip


def test_a_viewer_can_change_nothing_through_any_page(signed_in, tenant_a):
    objects = tenant_objects(tenant_a, "roles")
    key = ApiKey.objects.get(prefix=raw_key(tenant_a).split("_")[1])
    client = signed_in("viewer")
    with tenant_context(tenant_a):
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(username="admin@alpha.example")
        before = (
            DatasetVersion.objects.count(),
            TrainingJob.objects.count(),
            list(ModelAlias.objects.values_list("version_id")),
        )
    baseline = _changes(tenant_a)
    for method, path, data in _writes(objects, key.pk, owner.pk):
        response = (
            getattr(client, method)(path, data, follow=True)
            if data is not None
            else client.get(path, follow=True)
        )
        page = response.content.decode()
        assert response.status_code in (200, 400, 403), (path, response.status_code)
        assert "Your role (viewer) cannot" in page, (path, page[:3000])
    assert _changes(tenant_a) == baseline
    key.refresh_from_db()
    assert key.revoked_at is None
    with tenant_context(tenant_a):
        after = (
            DatasetVersion.objects.count(),
            TrainingJob.objects.count(),
            list(ModelAlias.objects.values_list("version_id")),
        )
        assert after == before
        assert TrainingJob.objects.get(pk=objects.job_id).status == "queued"


def test_a_viewer_reads_every_page_and_is_offered_no_change(signed_in, tenant_a):
    objects = tenant_objects(tenant_a, "looks")
    client = signed_in("viewer")
    for path in ("/", "/datasets/", f"/datasets/{objects.dataset}/", "/training/", f"/models/{objects.model}/",
                 f"/models/{objects.model}/v2/", "/api-keys/", "/usage/", "/feedback/", "/team/"):  # fmt: skip
        assert client.get(path).status_code == 200, path
    keys = client.get("/api-keys/").content.decode()
    assert "Create a key" not in keys
    team = client.get("/team/").content.decode()
    assert "Send invitation" not in team and "Change role" not in team
    assert "Audit log" not in client.get("/").content.decode()


def test_a_member_cannot_mint_a_key_with_the_admin_scope(signed_in, tenant_a):
    client = signed_in("member")
    page = client.get("/api-keys/").content.decode()
    assert 'value="admin"' not in page  # not offered
    refused = client.post("/api-keys/", {"name": "sneaky", "scopes": ["predict", "admin"]})
    assert refused.status_code == 403
    assert "cannot create a key with the admin scope" in refused.content.decode()
    assert not ApiKey.objects.filter(tenant=tenant_a, name="sneaky").exists()
    made = client.post("/api-keys/", {"name": "helpdesk", "scopes": ["predict", "train"]})
    assert made.status_code == 200
    key = ApiKey.objects.get(tenant=tenant_a, name="helpdesk")
    assert key.scopes == ["predict", "train"] and key.created_by == "member@alpha.example"
    assert AuditEntry.objects.filter(
        tenant=tenant_a, action="api_key.created", object_id=str(key.pk)
    ).exists()


def test_a_member_revokes_their_own_key_but_not_anothers(signed_in, tenant_a):
    client = signed_in("member")
    client.post("/api-keys/", {"name": "own", "scopes": ["predict"]})
    own = ApiKey.objects.get(tenant=tenant_a, name="own")
    other = ApiKey.objects.get(prefix=raw_key(tenant_a).split("_")[1])
    assert "own" in client.get("/api-keys/").content.decode()
    refused = client.post(f"/api-keys/{other.pk}/revoke/", follow=True)
    assert "Your role (member) cannot revoke anyone" in refused.content.decode()
    client.post(f"/api-keys/{own.pk}/revoke/")
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None


@pytest.mark.parametrize("role", ["member", "admin"])
def test_promotion_needs_the_admin_role(signed_in, tenant_a, role):
    objects = tenant_objects(tenant_a, f"promo-{role}")
    client = signed_in(role)
    client.post(f"/models/{objects.model}/v1/promote/", {"override_reason": "tried"})
    with tenant_context(tenant_a):
        production = ModelAlias.objects.get(model__name=objects.model, alias="production").version.number
    assert production == (1 if role == "admin" else 2)


def test_a_user_without_a_role_sees_no_page(tenant_a):
    from django.contrib.auth import get_user_model

    with tenant_context(tenant_a):
        get_user_model().objects.create_user(username="stray@alpha.example", password="pass-stray-7391")
    client = Client(HTTP_HOST="alpha.localhost")
    client.post("/accounts/login/", {"username": "stray@alpha.example", "password": "pass-stray-7391"})
    response = client.get("/datasets/")
    assert response.status_code == 403 and "no role in this workspace" in response.content.decode()
