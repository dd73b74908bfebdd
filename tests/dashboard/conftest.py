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
    return login(Client(HTTP_HOST=ALPHA), ALPHA, "admin@alpha.example", "pw-alpha")


@pytest.fixture
def anonymous_client(tenant_a) -> Client:
    return Client(HTTP_HOST=ALPHA)
