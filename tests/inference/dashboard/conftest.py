"""Fixtures for the dashboard: a logged-in browser-like client on a tenant's host."""

from __future__ import annotations

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
