"""Shared fixtures: real PostgreSQL and Redis (embedded ones when DATABASE_URL/REDIS_URL are unset)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support import ROLE_PASSWORD, purge_broker, start_worker, stop_worker

_started_here: dict[str, bool] = {}


def pytest_configure(config):
    # A newcomer has no servers: start the embedded ones, as `manage.py dev` would.
    from config import embedded

    _started_here.update(embedded.start())


def pytest_unconfigure(config):
    # Leave the machine as the run found it: stop what this run started, not a `dev` that was up.
    if any(_started_here.values()):
        from config import embedded

        embedded.stop(only=_started_here)


# ---- browser tests (the dashboard's, the journeys') ---------------------------------------------

CHROMIUM = os.environ.get("SCALPEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set SCALPEL_CHROMIUM)"
        if os.environ.get("SCALPEL_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright has no flag for a custom browser: point it at the system Chromium."""
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def playwright(playwright):
    # Playwright's sync API keeps an event loop running in this thread for the rest of the session,
    # and Django refuses ORM calls while a loop runs; the tests' ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return playwright


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database plus two tenants that every test may use (created once, committed)."""
    from django.db import connection

    from console.services import base_model_ensure_default
    from tenants import services
    from tenants.selectors import tenant_get

    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django only creates the test database for tests that use `db`; a run made
            # only of live tests (committed data, real workers) needs it too.
            from django.test.utils import setup_databases

            setup_databases(verbosity=0, interactive=False, aliases={"default"})
        services.ensure_public_tenant()
        base_model_ensure_default()
        for slug in ("alpha", "beta"):
            if tenant_get(slug=slug) is None:
                services.tenant_create(
                    slug=slug,
                    name=slug.title(),
                    admin_email=f"admin@{slug}.example",
                    admin_password="pass-" + slug + "-7391",
                )
    yield
    # Background threads (heartbeats, usage flushes) may still hold connections to the test
    # database; close them so it can be dropped cleanly.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    from django.db import connection

    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _request_redis_closed_breaker():
    """A test that made Redis unreachable leaves the request path's breaker open: the next starts afresh."""
    yield
    from tenants import redis_client

    redis_client.breaker.close()
    redis_client._client = None


@pytest.fixture
def tenant_a(db):
    from tenants.selectors import tenant_get

    return tenant_get(slug="alpha")


@pytest.fixture
def tenant_b(db):
    from tenants.selectors import tenant_get

    return tenant_get(slug="beta")


@pytest.fixture
def live_db(django_db_setup, django_db_blocker):
    """Committed database access, for tests where another process (a worker, a server) reads the data."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def live_tenant(live_db):
    """A fresh tenant whose rows are committed; dropped with its schema afterwards."""
    from tenants import services

    slug = f"live-{uuid.uuid4().hex[:8]}"
    tenant = services.tenant_create(
        slug=slug, admin_email=f"admin@{slug}.example", admin_password="pass-live-7391"
    )
    yield tenant
    from django.db import connection

    connection.set_schema_to_public()
    tenant.delete(force_drop=True)


@pytest.fixture
def celery_worker_process(live_db):
    """A real worker consuming both queues for the duration of a test."""
    purge_broker()
    proc = start_worker()
    yield proc
    stop_worker(proc)
    # A task cut short by the stop goes back to the queue; it must not reach the next test's worker.
    purge_broker()


@pytest.fixture
def workspace_user(tenant_a):
    """Makes a user of tenant A with a role, through the team service: ``workspace_user("viewer")``
    returns their email (password ``ROLE_PASSWORD``)."""
    from django_tenants.utils import tenant_context

    from tenants.services.members import member_add

    def make(role: str, email: str | None = None) -> str:
        email = email or f"{role}@alpha.example"
        with tenant_context(tenant_a):
            member_add(email=email, role=role, password=ROLE_PASSWORD)
        return email

    return make


@pytest.fixture
def signed_in(workspace_user):
    """A test client signed in to tenant A's host as a new user with a role: ``signed_in("member")``."""
    from django.test import Client

    def make(role: str, host: str = "alpha.localhost"):
        email = workspace_user(role)
        client = Client(HTTP_HOST=host)
        response = client.post("/accounts/login/", {"username": email, "password": ROLE_PASSWORD})
        assert response.status_code == 302, "login failed"
        return client

    return make
