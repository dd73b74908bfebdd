"""Tenant slugs, creation, suspension and the operator console."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from tenants import services
from tenants.models import Tenant
from tenants.selectors import user_role
from tenants.validators import InvalidSlug, validate_tenant_slug


@pytest.mark.parametrize(
    ("slug", "rule"),
    [
        ("", "empty"),
        ("ab", "too short"),
        ("a" * 41, "too long"),
        ("Acme", "uppercase"),
        ("acme_co", "'_'"),
        ("acme co", "' '"),
        ("-acme", "start and end"),
        ("acme-", "start and end"),
        ("ac--me", "two hyphens"),
        ("public", "reserved"),
        ("www", "reserved"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("static", "reserved"),
    ],
)
def test_invalid_slugs_say_which_rule_failed(slug, rule):
    with pytest.raises(InvalidSlug, match=rule):
        validate_tenant_slug(slug)


@pytest.mark.parametrize("slug", ["acme", "acme-bank", "b2b", "a" * 40, "123"])
def test_valid_slugs(slug):
    assert validate_tenant_slug(slug) == slug


def test_tenant_create_command_creates_schema_domain_and_admin(db, capsys):
    call_command(
        "tenant_create",
        "gamma-co",
        "--name",
        "Gamma",
        "--admin-email",
        "ops@gamma.example",
        "--admin-password",
        "pass-gamma-7391",
    )
    tenant = Tenant.objects.get(slug="gamma-co")
    assert tenant.name == "Gamma"
    assert tenant.schema_name == "t_gamma_co"
    assert tenant.domains.get().domain == "gamma-co.localhost"
    with schema_context(tenant.schema_name):
        from django.contrib.auth import get_user_model

        admin = get_user_model().objects.get(username="ops@gamma.example")
        # The first admin is the workspace's owner (a role), not a Django superuser.
        assert user_role(admin) == "owner" and admin.check_password("pass-gamma-7391")
    assert "Created tenant 'gamma-co'" in capsys.readouterr().out


def test_tenant_create_command_refuses_an_existing_slug_with_exit_code_1(tenant_a):
    import subprocess
    import sys

    from tests.support import REPO, worker_database_url

    env = {**__import__("os").environ, "DATABASE_URL": worker_database_url()}
    proc = subprocess.run(
        [sys.executable, "manage.py", "tenant_create", "alpha"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "already exists" in proc.stderr


def test_tenant_create_command_explains_a_bad_slug(db):
    with pytest.raises(CommandError, match="only lowercase letters, digits and hyphens"):
        call_command("tenant_create", "bad_slug")


def test_suspended_tenant_gets_a_page_and_its_data_is_kept(tenant_a, client):
    from django.contrib.auth import get_user_model

    services.tenant_suspend(tenant=tenant_a, reason="unpaid")
    page = client.get("/admin/", HTTP_HOST="alpha.localhost")
    assert page.status_code == 403
    assert b"suspended" in page.content
    api = client.get("/api/v1/usage", HTTP_HOST="alpha.localhost")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "tenant_suspended"
    with schema_context(tenant_a.schema_name):
        assert get_user_model().objects.filter(username="admin@alpha.example").exists()

    services.tenant_reactivate(tenant=tenant_a)
    connection.set_schema_to_public()
    assert client.get("/admin/login/", HTTP_HOST="alpha.localhost").status_code == 200


def test_suspended_tenants_api_key_gets_403_tenant_suspended(tenant_a, client):
    key, raw = services.api_key_create(tenant=tenant_a, name="k", scopes=["read"])
    services.tenant_suspend(tenant=tenant_a)
    response = client.get("/api/v1/usage", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"


def test_operator_creates_a_tenant_in_the_console(db, client):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser(username="op", password="op-pass")
    client.login(username="op", password="op-pass")
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "slug": "delta",
            "name": "Delta",
            "admin_email": "a@delta.example",
            "admin_password": "pass-delta-7391",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    tenant = Tenant.objects.get(slug="delta")
    assert tenant.domains.get().domain == "delta.localhost"

    bad = client.post("/admin/tenants/tenant/add/", {"slug": "Not Valid", "name": "x"})
    assert bad.status_code == 200
    assert "uppercase" in bad.content.decode()

    # An existing slug and a weak password are form errors next to their fields, not a server error.
    again = client.post("/admin/tenants/tenant/add/", {"slug": "delta", "name": "Delta again"})
    assert again.status_code == 200 and "already exists" in again.content.decode()
    weak = client.post(
        "/admin/tenants/tenant/add/",
        {"slug": "epsilon", "name": "E", "admin_email": "a@epsilon.example", "admin_password": "pw"},
    )
    assert weak.status_code == 200 and "stronger admin password" in weak.content.decode()
    assert not Tenant.objects.filter(slug="epsilon").exists()


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "pass-zeta-7391", "is not an email address"),
        ("ops@zeta.example", "short", "This password is too short"),
        ("ops@zeta.example", "password123", "This password is too common"),
    ],
)
def test_tenant_create_refuses_a_bad_first_admin_and_creates_nothing(db, email, password, message):
    with pytest.raises(CommandError, match=message):
        call_command("tenant_create", "zeta", "--admin-email", email, "--admin-password", password)
    assert not Tenant.objects.filter(slug="zeta").exists()


def test_operator_suspends_and_reactivates_from_the_console(db, client, tenant_b):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser(username="op", password="op-pass")
    client.login(username="op", password="op-pass")
    client.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [tenant_b.pk]})
    tenant_b.refresh_from_db()
    assert tenant_b.is_suspended
    client.post("/admin/tenants/tenant/", {"action": "reactivate", "_selected_action": [tenant_b.pk]})
    tenant_b.refresh_from_db()
    assert not tenant_b.is_suspended


def test_tenant_admin_logs_in_on_its_own_host_only(tenant_a, client):
    login = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@alpha.example", "password": "pass-alpha-7391"},
        HTTP_HOST="alpha.localhost",
    )
    assert login.status_code == 302
    assert client.get("/admin/", HTTP_HOST="alpha.localhost").status_code == 200
    connection.set_schema_to_public()
    # The same session on another tenant's host is not logged in there.
    other = client.get("/admin/", HTTP_HOST="beta.localhost")
    assert other.status_code == 302 and "/login/" in other["Location"]


def test_unknown_tenant_host_is_404(db, client):
    assert client.get("/admin/", HTTP_HOST="nobody.localhost").status_code == 404


def test_operator_sees_every_tenants_jobs_and_the_queues(db, client, tenant_a, tenant_b):
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context

    from tests.factories import TrainingJobFactory

    with tenant_context(tenant_a):
        TrainingJobFactory(model_name="alpha-model")
    with tenant_context(tenant_b):
        TrainingJobFactory(model_name="beta-model", status="failed")
    get_user_model().objects.create_superuser(username="op", password="op-pass")
    client.login(username="op", password="op-pass")
    page = client.get("/admin/operations/").content.decode()
    assert "alpha-model" in page and "beta-model" in page
    assert "training" in page and "Redis unreachable" not in page


def test_registering_a_base_model_checks_that_it_loads(db, tmp_path):
    from console.services import base_model_register
    from core.exceptions import ApplicationError
    from inference.engine.basemodels import default_base_model_dir

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ApplicationError, match="cannot be used"):
        base_model_register(model_id="broken", name="Broken", path=str(tmp_path))
    model = base_model_register(model_id="minilm-copy", name="MiniLM again", path=default_base_model_dir())
    assert (model.model_type, model.hidden_size, model.num_layers) == ("bert", 384, 6)
    assert len(model.fingerprint) == 64
