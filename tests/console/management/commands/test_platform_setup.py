"""`manage.py platform_setup`: the public tenant, the base model and the operator, idempotently.

Its migrations run in the deployment journey (tests/journeys/test_deploy.py, on a fresh database);
here the test database is migrated already.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from tenants.models import BaseModel, Domain

EMAIL, PASSWORD = "ops@example.com", "a-Long-pass-9381"


def setup(monkeypatch, settings, **env) -> str:
    for name in ("DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("platform_setup", "--noinput", "--skip-migrate", stdout=out)
    return out.getvalue()


@pytest.fixture
def public_hosts(settings):
    settings.SCALPEL_PUBLIC_HOSTS = [*settings.SCALPEL_PUBLIC_HOSTS, "api.scalpel.test"]
    return settings.SCALPEL_PUBLIC_HOSTS


def test_sets_up_the_public_hosts_base_model_and_operator_and_changes_nothing_the_second_time(
    db, monkeypatch, settings, public_hosts
):
    out = setup(monkeypatch, settings, DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    assert f"Operator {EMAIL} created." in out and "The platform is set up." in out
    assert Domain.objects.get(domain="api.scalpel.test").tenant.schema_name == "public"
    assert BaseModel.objects.filter(id="minilm-l6").exists()
    with schema_context("public"):
        operator = get_user_model().objects.get(username=EMAIL)
        assert operator.is_superuser and operator.check_password(PASSWORD)

    again = setup(
        monkeypatch, settings, DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD="Another-pass-5521"
    )
    assert "exists already (left unchanged)" in again
    with schema_context("public"):
        assert get_user_model().objects.get(username=EMAIL).check_password(PASSWORD)
    assert Domain.objects.filter(domain="api.scalpel.test").count() == 1


def test_without_an_operator_it_says_how_to_create_one(db, monkeypatch, settings):
    out = setup(monkeypatch, settings)
    assert "No operator account yet: set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD" in out


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_SUPERUSER_EMAIL": EMAIL}, "Give both the operator's email and password"),
        (
            {"DJANGO_SUPERUSER_EMAIL": EMAIL, "DJANGO_SUPERUSER_PASSWORD": "short"},
            "Choose a stronger operator password",
        ),
        (
            {"DJANGO_SUPERUSER_EMAIL": "not-an-email", "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
            "is not an email address",
        ),
    ],
)
def test_a_bad_operator_is_refused_before_anything_is_written(db, monkeypatch, settings, env, message):
    with pytest.raises(CommandError, match=message):
        setup(monkeypatch, settings, **env)
    with schema_context("public"):
        assert not get_user_model().objects.filter(is_superuser=True).exists()
