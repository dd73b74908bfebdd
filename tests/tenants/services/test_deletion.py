"""Deleting a tenant leaves nothing of it: no schema, no row, no stored or cached file, no Redis key;
the command and the console say what will go before anything does."""

from __future__ import annotations

import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from inference.models import Model
from inference.services.datasets import dataset_upload
from tenants import services
from tenants.models import ApiKey, AuditEntry, Domain, IdempotencyRecord, Tenant, UsageDay
from tenants.redis_client import request_path_redis
from tenants.selectors import tenant_get
from tests.factories import model_version, raw_key
from tests.support import ApiClient

CSV = b"text,label\n" + b"".join(f"good {i},pos\nbad {i},neg\n".encode() for i in range(10))


@pytest.fixture
def doomed(live_db, settings, tmp_path):
    """A committed tenant with a dataset (a stored file), a model version with a cached artifact
    copy, API calls (rate-limit keys in Redis, usage, an idempotency record) and audit entries."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SCALPEL_ARTIFACT_CACHE_DIR = tmp_path / "artifact-cache"
    slug = f"doomed-{uuid.uuid4().hex[:6]}"
    tenant = services.tenant_create(
        slug=slug, admin_email=f"owner@{slug}.example", admin_password="pass-doom-7391"
    )
    with tenant_context(tenant):
        version = dataset_upload(name="tickets", file=CSV, filename="t.csv", task="classification")
        model = Model.objects.create(name="router", task="classification")
        checksum = model_version(model, 1, version).artifact_checksum
    cached = Path(settings.SCALPEL_ARTIFACT_CACHE_DIR) / checksum
    cached.mkdir(parents=True)
    (cached / "manifest.json").write_text("{}")
    api = ApiClient(Client(), raw_key(tenant))
    assert api.get("models").status_code == 200
    assert api.post("feedback", {"model": "router", "input": "hi", "correct_label": "pos"},
                    HTTP_IDEMPOTENCY_KEY="once").status_code == 201  # fmt: skip
    services.usage_flush()
    connection.set_schema_to_public()  # the API call left the connection in the tenant's schema
    yield tenant, cached, Path(settings.MEDIA_ROOT) / f"tenants/{tenant.pk}"
    connection.set_schema_to_public()
    leftover = tenant_get(slug=slug)
    if leftover is not None:
        leftover.delete(force_drop=True)


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_a_deleted_tenant_leaves_no_schema_row_file_cached_copy_or_redis_key(doomed):
    tenant, cached, stored = doomed
    tenant_id, schema, slug = tenant.pk, tenant.schema_name, tenant.slug
    key_prefixes = list(ApiKey.objects.filter(tenant=tenant).values_list("prefix", flat=True))
    assert stored.exists() and any(stored.rglob("*.csv")) and cached.exists()
    redis = request_path_redis()
    assert list(redis.scan_iter(match=f"rl:t:{tenant_id}:*"))

    removed = services.tenant_delete(tenant=tenant, actor="system")

    assert removed["datasets"] == ["tickets"] and removed["models"] == ["router"] and removed["files"] >= 1
    assert not _schema_exists(schema)
    assert not Tenant.objects.filter(pk=tenant_id).exists()
    for model in (ApiKey, UsageDay, Domain, AuditEntry, IdempotencyRecord):
        assert not model.objects.filter(tenant_id=tenant_id).exists(), model.__name__
    assert not stored.exists() and not cached.exists()
    patterns = [f"rl:t:{tenant_id}:*", f"gen:registry:{schema}", *(f"rl:k:{p}:*" for p in key_prefixes)]
    assert not [key for pattern in patterns for key in redis.scan_iter(match=pattern)]
    entry = AuditEntry.objects.get(action="tenant.deleted", details__slug=slug)
    assert entry.tenant_id is None and entry.details["removed"]["datasets"] == ["tickets"]


def test_the_command_lists_what_will_go_and_refuses_without_yes(doomed):
    tenant, _, _ = doomed
    out = StringIO()
    with pytest.raises(CommandError, match="Add --yes"):
        call_command("tenant_delete", tenant.slug, stdout=out)
    listing = out.getvalue()
    assert "1 dataset(s): tickets" in listing and "1 model(s): router" in listing
    assert "stored file(s)" in listing and "API key(s)" in listing
    assert tenant_get(slug=tenant.slug) is not None and _schema_exists(tenant.schema_name)

    call_command("tenant_delete", tenant.slug, "--yes", stdout=out)
    assert f"Deleted tenant '{tenant.slug}'" in out.getvalue()
    assert tenant_get(slug=tenant.slug) is None and not _schema_exists(tenant.schema_name)


def test_the_console_confirmation_lists_datasets_models_and_files_then_deletes_everything(doomed, client):
    tenant, cached, stored = doomed
    with schema_context("public"):
        get_user_model().objects.create_superuser(
            username=f"op-{tenant.slug}", email="op@x.example", password="pw-op-4417"
        )
    client.login(username=f"op-{tenant.slug}", password="pw-op-4417")
    page = client.get(f"/admin/tenants/tenant/{tenant.pk}/delete/").content.decode()
    summary = page.split('id="tenant-deletion-summary"')[1].split("</ul>")[0]
    assert "1 dataset: tickets" in summary and "1 model: router" in summary and "stored file" in summary
    response = client.post(f"/admin/tenants/tenant/{tenant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert tenant_get(slug=tenant.slug) is None and not _schema_exists(tenant.schema_name)
    assert not stored.exists() and not cached.exists()
    listing = client.get("/admin/tenants/tenant/").content.decode()
    assert "delete_selected" not in listing  # one tenant at a time, through the confirmation
