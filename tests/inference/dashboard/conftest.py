"""Fixtures for the dashboard: a logged-in browser-like client on a tenant's host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

ALPHA = "alpha.localhost"
BETA = "beta.localhost"


def login(client: Client, host: str, email: str, password: str) -> Client:
    # Users live in the tenant's schema, so logging in must go through that tenant's host.
    response = client.post("/accounts/login/", {"username": email, "password": password}, HTTP_HOST=host)
    assert response.status_code == 302, "login failed"
    return client


@pytest.fixture
def alpha_client(tenant_a) -> Client:
    return login(Client(HTTP_HOST=ALPHA), ALPHA, "admin@alpha.example", "pass-alpha-7391")


@pytest.fixture
def anonymous_client(tenant_a) -> Client:
    return Client(HTTP_HOST=ALPHA)


# ---- browser tests ------------------------------------------------------------------------------

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


@pytest.fixture
def test_database(live_db):
    """Refuse to run live tests on a real database.

    pytest-django creates the test database only when some collected test asks for ``db``; a live
    test run alone (``-m browser``) would otherwise reach the development database.
    """
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if not name.startswith("test_"):
        pytest.fail(
            f"No test database was set up (using '{name}'): run the browser test with tests/inference/dashboard/test_pages.py."
        )


@pytest.fixture
def live_server_url(test_database):
    """The platform in a real server process on the test database (pytest-django's live_server would flush it)."""
    from tests.support import start_web_server, stop_web_server

    proc, port = start_web_server()
    yield f"http://127.0.0.1:{port}", port
    stop_web_server(proc)
