"""Every answer carries a request id, errors quote it, and the request's log lines carry its fields."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from config.log_format import shared_processors

from tenants.services import api_key_create


@pytest.fixture
def json_log():
    """Lines of the ``scalpel`` loggers, rendered as production renders them (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared_processors(),
        )
    )
    logger = logging.getLogger("scalpel")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/api/v1/models", "/api/v1/no-such-thing", "/admin/login/"]
)
def test_every_answer_carries_a_request_id(client, db, path):
    response = client.get(path)
    assert len(response["X-Request-ID"]) == 32


def test_the_callers_id_is_kept_and_quoted_in_the_error_body(client, db):
    response = client.get("/api/v1/models", HTTP_X_REQUEST_ID="trace-4f2a.7")
    assert response.status_code == 401
    assert response["X-Request-ID"] == "trace-4f2a.7"
    assert response.json()["error"]["request_id"] == "trace-4f2a.7"


def test_a_malformed_id_is_replaced_not_echoed(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="x" * 500)
    assert response["X-Request-ID"] != "x" * 500 and len(response["X-Request-ID"]) == 32


def test_two_requests_never_share_an_id(client, db):
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_an_api_call_logs_its_request_id_tenant_and_key_prefix(client, tenant_a, settings, json_log):
    settings.SCALPEL_ACCESS_LOG = True
    key, raw = api_key_create(tenant=tenant_a, name="logs", scopes=["read"])
    response = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_REQUEST_ID="req-77")
    assert response.status_code == 200
    (line,) = [entry for entry in json_log() if entry["event"] == "request"]
    assert line["request_id"] == "req-77"
    assert line["tenant"] == tenant_a.slug
    assert line["key_prefix"] == key.prefix
    assert (line["route"], line["status"], line["method"]) == ("api/v1/models", 200, "GET")
    assert line["level"] == "info" and "timestamp" in line and line["duration_ms"] >= 0


def test_a_page_on_a_tenants_host_logs_its_tenant(client, tenant_a, settings, json_log):
    settings.SCALPEL_ACCESS_LOG = True
    assert client.get("/accounts/login/", HTTP_HOST=f"{tenant_a.slug}.localhost").status_code == 200
    (line,) = [entry for entry in json_log() if entry["event"] == "request"]
    assert line["tenant"] == tenant_a.slug and "key_prefix" not in line
