"""The platform's base: tenant isolation, the stdlib `platform`, probes, a real worker."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_context

from tests.support import REPO, wait_for


def test_stdlib_platform_module_is_not_shadowed():
    # Run inside the project exactly as manage.py does (repo root and platform/ on the path).
    code = "import sys; sys.path[:0] = ['.', 'platform']; import platform, config; print(platform.system())"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() in {"Linux", "Darwin", "Windows"}
    assert not (REPO / "platform" / "__init__.py").exists()


def test_two_tenants_have_two_schemas_and_users_stay_in_their_own(tenant_a, tenant_b):
    assert tenant_a.schema_name != tenant_b.schema_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        schemas = {row[0] for row in cursor.fetchall()}
    assert {tenant_a.schema_name, tenant_b.schema_name} <= schemas

    user_model = get_user_model()
    with schema_context(tenant_a.schema_name):
        user_model.objects.create_user(username="only-in-a", password="x")
        assert user_model.objects.filter(username="only-in-a").exists()
    with schema_context(tenant_b.schema_name):
        assert not user_model.objects.filter(username="only-in-a").exists()
        assert user_model.objects.filter(username="admin@beta.example").exists()
    with schema_context("public"):
        assert not user_model.objects.filter(username="only-in-a").exists()


def test_healthz_answers_without_a_database_round_trip(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_redis(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]


def test_readyz_says_unavailable_when_redis_is_unreachable(client, settings, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {
        "ok": False,
        "error": "ConnectionError",
        "ms": response.json()["checks"]["redis"]["ms"],
    }


@pytest.mark.slow
def test_a_real_worker_runs_each_task_in_its_senders_schema(live_tenant, celery_worker_process):
    from django.core.cache import cache

    from tenants.tasks import report_worker_context

    token_tenant, token_public = uuid.uuid4().hex, uuid.uuid4().hex
    with schema_context(live_tenant.schema_name):
        report_worker_context.delay(token_tenant)
    report_worker_context.delay(token_public)

    in_tenant = wait_for(
        lambda: cache.get(f"worker-context:{token_tenant}"), timeout=60, message="the worker"
    )
    in_public = wait_for(
        lambda: cache.get(f"worker-context:{token_public}"), timeout=30, message="the worker"
    )
    assert in_tenant["schema"] == live_tenant.schema_name
    assert in_tenant["users"] == [f"admin@{live_tenant.slug}.example"]
    assert in_public["schema"] == "public"
    assert f"admin@{live_tenant.slug}.example" not in in_public["users"]


@pytest.mark.django_db
def test_api_docs_page_loads_its_assets_from_the_platform_itself(client):
    import re

    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == [], external
    assert "/static/drf_spectacular_sidecar/" in html
