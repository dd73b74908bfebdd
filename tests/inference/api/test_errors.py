"""One error shape with a stable code for every failure; nothing internal ever reaches a client."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import SuspiciousMultipartForm
from django.db import connection
from django_tenants.utils import schema_context

from inference.models import AliasChange
from tenants import services
from tests.factories import raw_key, tenant_objects
from tests.support import ApiClient, error_of


def test_invalid_api_key_401_for_a_malformed_header(client, db):
    error = error_of(client.get("/api/v1/datasets", HTTP_AUTHORIZATION="Token abc"), 401, "invalid_api_key")
    assert "Bearer" in error["message"]


def test_insufficient_scope_403_names_the_missing_scope(client, tenant_a):
    error = error_of(
        ApiClient(client, raw_key(tenant_a, scopes=["predict"])).get("datasets"), 403, "insufficient_scope"
    )
    assert error["details"] == {"required_scope": "read", "key_scopes": ["predict"]}


def test_an_admin_key_holds_every_scope(client, tenant_a):
    assert ApiClient(client, raw_key(tenant_a, scopes=["admin"])).get("datasets").status_code == 200


def test_tenant_suspended_403(client, tenant_a):
    api = ApiClient(client, raw_key(tenant_a))
    services.tenant_suspend(tenant=tenant_a, reason="unpaid")
    error_of(api.get("models"), 403, "tenant_suspended")


def test_not_found_404_for_an_unknown_object_and_an_unknown_path(api):
    assert "no dataset named 'nope'" in error_of(api.get("datasets/nope"), 404, "not_found")["message"]
    error_of(api.get("models/nope/versions/3"), 404, "not_found")
    error_of(api.get("no-such-endpoint"), 404, "not_found")


def test_validation_failed_400_lists_the_fields(api):
    error = error_of(api.post("training-jobs", {"dataset_version": "x"}), 400, "validation_failed")
    assert set(error["details"]) >= {"dataset", "model", "dataset_version"}


def test_malformed_json_400(api):
    response = api.client.post(
        "/api/v1/feedback",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
    )
    error_of(response, 400, "malformed_request")


def test_method_not_allowed_405(api):
    error_of(api.call("DELETE", "datasets"), 405, "method_not_allowed")
    error_of(api.call("PUT", "models"), 405, "method_not_allowed")


def test_unsupported_media_type_415(api):
    response = api.client.post(
        "/api/v1/feedback", "model=x", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {api.key}"
    )
    error_of(response, 415, "unsupported_media_type")


def test_model_not_ready_409_for_a_model_without_versions(api, tenant_a):
    objects = tenant_objects(tenant_a, "alpha-own")
    connection.set_schema_to_public()
    error = error_of(
        api.post(f"models/{objects.empty_model}/predict", {"inputs": ["hi"]}), 409, "model_not_ready"
    )
    assert "no trained version" in error["message"]


def test_payload_too_large_413_names_the_limit(api, settings):
    settings.SCALPEL_PREDICT_MAX_BATCH = 2
    error = error_of(
        api.post("models/whatever/predict", {"inputs": ["a", "b", "c"]}), 413, "payload_too_large"
    )
    assert error["details"] == {"max_inputs": 2}
    assert "at most 2" in error["message"]


def test_conflicts_are_409_with_their_own_code(api, tenant_a):
    objects = tenant_objects(tenant_a, "alpha-own")
    with schema_context(tenant_a.schema_name):
        AliasChange.objects.all().delete()  # production v2 with no history: nothing to go back to
    error = error_of(api.post(f"models/{objects.model}/rollback", {}), 409, "nothing_to_roll_back")
    assert "no earlier version" in error["message"]


def test_rate_limited_429_with_retry_after(client, tenant_a, settings):
    settings.SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE = 1
    api = ApiClient(client, raw_key(tenant_a))
    responses = [api.get("datasets") for _ in range(3)]
    limited = [r for r in responses if r.status_code == 429]
    # Two of three requests exceed a limit of one per minute (one if a minute boundary fell between).
    assert limited, [r.status_code for r in responses]
    error = error_of(limited[-1], 429, "rate_limited")
    assert 1 <= int(limited[-1]["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(limited[-1]["Retry-After"])


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_an_internal_error_is_500_with_an_incident_id_and_no_internals(
    api, monkeypatch, caplog, settings, debug
):
    settings.DEBUG = debug  # `manage.py dev` runs with DEBUG on: clients must see the same answer

    def broken():
        raise RuntimeError("secret-internal-detail in /srv/scalpel/inference/selectors.py")

    monkeypatch.setattr("inference.api.datasets.dataset_list", broken)
    response = api.get("datasets")
    error = error_of(response, 500, "internal_error")
    text = response.content.decode()
    for leak in ("secret-internal-detail", "Traceback", "RuntimeError", ".py", 'File "'):
        assert leak not in text
    assert "incident" in error["message"]
    # The operator still gets the whole story in the log.
    assert "secret-internal-detail" in caplog.text


@pytest.mark.parametrize("path", ["datasets", "models", "training-jobs", "feedback", "usage"])
def test_lists_answer_with_a_results_envelope(api, path):
    response = api.get(path)
    assert response.status_code == 200
    assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize("host", ["testserver", "alpha.localhost"], ids=["public-host", "tenant-host"])
@pytest.mark.parametrize(
    "path", ["/api/v1/no-such", "/api/v1/models/x/nope/deeper", "/api/v2/models", "/api/"]
)
def test_an_unknown_api_url_is_a_json_404_even_with_debug_on(api, settings, host, path):
    settings.DEBUG = True  # Django's handler404 is skipped then: its HTML page lists every URL pattern
    for method in ("GET", "POST"):
        response = api.call(method, path, {} if method == "POST" else None, HTTP_HOST=host)
        error_of(response, 404, "not_found")
        assert b"urlpatterns" not in response.content and b"<html" not in response.content.lower()


def test_a_trailing_slash_is_a_404_that_names_the_right_path(api):
    error = error_of(api.get("/api/v1/datasets/"), 404, "not_found")
    assert "use /api/v1/datasets" in error["message"]
    assert "/api/v1/docs/" in error_of(api.get("/api/v1/nothing-here"), 404, "not_found")["message"]


def test_the_schema_url_without_its_slash_still_redirects(api, settings):
    settings.DEBUG = True
    response = api.get("/api/v1/schema")
    assert response.status_code == 301 and response["Location"].endswith("/api/v1/schema/")


def test_a_body_over_the_memory_limit_is_413_naming_the_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error = error_of(api.post("models/whatever/predict", {"inputs": ["a" * 2000]}), 413, "payload_too_large")
    assert error["details"] == {"max_body_bytes": 1000}
    assert "1000 bytes" in error["message"]


def test_a_predict_request_within_the_documented_limits_always_fits_the_body_limit(api, settings):
    # The worst case JSON can spell: every character an emoji, written as a 12-byte surrogate pair.
    inputs = [
        "\N{GRINNING FACE}" * settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH
    ] * settings.SCALPEL_PREDICT_MAX_BATCH
    assert len(json.dumps({"inputs": inputs, "version": "production", "top_k": 5})) < (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )
    # The body is read and the request answered on its merits (no such model), not refused for size.
    error_of(api.post("models/whatever/predict", {"inputs": inputs}), 404, "not_found")


def test_an_unreadable_request_is_400_not_500(api, monkeypatch):
    def suspicious(**kwargs):
        raise SuspiciousMultipartForm("Invalid boundary in multipart: None")

    monkeypatch.setattr("inference.api.datasets.dataset_list", suspicious)
    error_of(api.get("datasets"), 400, "malformed_request")


@pytest.mark.parametrize(
    "outage",
    [
        pytest.param(
            lambda: __import__("django.db").db.OperationalError("server closed the connection"),
            id="django-db",
        ),
        pytest.param(lambda: __import__("psycopg").OperationalError("connection refused"), id="psycopg"),
        pytest.param(lambda: __import__("redis").ConnectionError("Connection refused"), id="redis-down"),
        pytest.param(lambda: __import__("redis").TimeoutError("Timeout reading"), id="redis-frozen"),
        pytest.param(
            lambda: __import__("kombu.exceptions").exceptions.OperationalError("refused"), id="broker"
        ),
    ],
)
def test_an_outage_is_503_service_unavailable_with_retry_after_never_500(api, monkeypatch, outage):
    def unreachable():
        raise outage()

    monkeypatch.setattr("inference.api.datasets.dataset_list", unreachable)
    response = api.get("datasets")
    error = error_of(response, 503, "service_unavailable")
    assert (
        response["Retry-After"] == str(error["details"]["retry_after"]) and int(response["Retry-After"]) > 0
    )
    assert "retry" in error["message"].lower()


def test_an_outage_met_in_a_middleware_is_503_too(client, tenant_a, monkeypatch, settings):
    from django.db import OperationalError

    settings.DEBUG = False

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("tenants.middleware.TenantMainMiddleware.get_tenant", database_down)
    page = client.get("/accounts/login/", HTTP_HOST="alpha.localhost")
    assert page.status_code == 503 and page["Retry-After"]
    assert "Temporarily unavailable" in page.content.decode()
