"""The API tests' client, and the checks every error response must pass."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import raw_key


class ApiClient:
    """Django's test client speaking JSON (or multipart) to /api/v1 with a Bearer key."""

    def __init__(self, client, key: str | None = None):
        self.client, self.key = client, key

    def call(
        self, method: str, path: str, body=None, *, key: str | None = None, multipart: bool = False, **extra
    ):
        key = key if key is not None else self.key
        if key:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        url = path if path.startswith("/") else f"/api/v1/{path}"
        send = getattr(self.client, method.lower())
        if multipart:
            return send(url, body or {}, **extra)
        if body is None:
            return send(url, **extra)
        return send(url, body, content_type="application/json", **extra)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.call("POST", path, body, **kwargs)


@pytest.fixture
def api(client, tenant_a):
    """A client holding an all-scope key of tenant A."""
    return ApiClient(client, raw_key(tenant_a))


def csv_file(rows, header=("text", "label"), name="data.csv") -> SimpleUploadedFile:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]  # the id to quote to support
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
