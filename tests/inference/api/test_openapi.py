"""The OpenAPI schema is valid and complete, and generated requests never make the API fail (500)."""

from __future__ import annotations

import time

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import raw_key, tenant_objects

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def openapi(client, db) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(openapi):
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_schema_is_valid_openapi_3(openapi):
    validate_schema(openapi)
    assert openapi["openapi"].startswith("3.")


def test_every_operation_is_documented_for_a_generated_client(openapi):
    assert openapi["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": openapi["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    operations = list(_operations(openapi))
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    assert {"dataset_list", "dataset_destroy", "dataset_version_destroy", "model_list"} <= set(ids)
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op["security"] == [{"ApiKey": []}], where
        success = [code for code in op["responses"] if code.startswith("2")]
        assert len(success) == 1 or (sorted(success) == ["200", "201"] and "dry_run" in str(op)), where
        assert all(code == "204" or "content" in op["responses"][code] for code in success), where
        for code in ("400", "401", "403", "429", "500"):
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", where
        if "{" in path:
            assert "404" in op["responses"], where
        if method == "post" and not path.endswith("/cancel"):
            assert "requestBody" in op, where


LISTS = [
    "/api/v1/datasets",
    "/api/v1/models",
    "/api/v1/models/{name}/versions",
    "/api/v1/training-jobs",
    "/api/v1/feedback",
    "/api/v1/usage",
]


def test_every_operation_explains_itself_and_its_errors_to_an_api_user(openapi):
    assert openapi["servers"] and openapi["servers"][0]["url"]
    for path, method, op in _operations(openapi):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        # Written for the caller: what it does and the scope it needs, not a code comment.
        assert len(op.get("description", "")) > 60 and "Scope: " in op["description"], where
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        for code, response in errors.items():
            assert response["description"], f"{where} {code}"
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", f"{where} {code}"
        if "requestBody" in op:  # a body can be too large or of the wrong type
            assert {"413", "415"} <= set(errors), where
        else:
            assert "415" not in errors, where
    error = openapi["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"code", "message", "details", "request_id"}


def test_every_list_pages_with_limit_and_offset_and_answers_one_shape(openapi):
    schemas = openapi["components"]["schemas"]
    for path in LISTS:
        listed = openapi["paths"][path]["get"]
        assert {"limit", "offset"} <= {p["name"] for p in listed["parameters"]}, path
        ref = listed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schemas[ref.rsplit("/", 1)[1]]
        extra = ["quotas"] if path == "/api/v1/usage" else []  # usage also answers the plan's quotas
        assert page["required"] == ["results", "count", "limit", "offset", *extra], path
        assert page["properties"]["results"]["type"] == "array", path


def test_the_docs_page_is_served(client, db):
    assert client.get("/api/v1/docs/").status_code == 200


@pytest.fixture
def wsgi_app(db, settings, tmp_path):
    """The real WSGI app, inside the test's transaction (as Django's test client keeps it)."""
    from config.wsgi import application

    settings.MEDIA_ROOT = tmp_path
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _existing(path: str, made) -> dict:
    """Path parameters naming rows that exist, so generated bodies reach the services."""
    params = {"n": 1, "id": made.job_id}
    if path.startswith("/api/v1/datasets/"):
        params["name"] = made.dataset
    elif path.endswith("/predict"):
        params["name"] = made.empty_model  # the rows' artifacts are fake: only "not ready" can be answered
    else:
        params["name"] = made.model
    return {k: v for k, v in params.items() if "{" + k + "}" in path}


def test_generated_requests_never_get_a_server_error(openapi, wsgi_app, tenant_a):
    # Given a workspace with some rows and a key holding every scope
    made = tenant_objects(tenant_a, "fuzz")
    connection.set_schema_to_public()
    headers = {"Authorization": f"Bearer {raw_key(tenant_a)}"}
    schema = schemathesis.openapi.from_dict(openapi)
    schema.app = wsgi_app
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    started, ran = time.monotonic(), 0

    # When schemathesis sends schema-conforming requests to every operation, with generated
    # path parameters and again with ones naming existing rows
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = _existing(operation.path, made)
        strategies = [operation.as_strategy()] + (
            [operation.as_strategy(path_parameters=fixed)] if fixed else []
        )
        for strategy in strategies:

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                # Then every answer is a documented, well-formed, non-5xx response.
                case.call_and_validate(headers=headers, checks=checks)

            run()
        ran += 1
    assert ran == len(list(_operations(openapi)))  # every documented operation was exercised
    assert time.monotonic() - started < 90


def test_the_schema_states_the_limits_and_rules_a_generated_client_must_keep(openapi, settings):
    schemas = openapi["components"]["schemas"]
    inputs = schemas["PredictInputRequest"]["properties"]["inputs"]
    assert (inputs["minItems"], inputs["maxItems"]) == (1, settings.SCALPEL_PREDICT_MAX_BATCH)
    assert inputs["items"] == {"type": "string", "maxLength": settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH}
    for body in ("PredictInputRequest", "TrainingJobListInputRequest", "FeedbackInputRequest"):
        assert schemas[body]["additionalProperties"] is False, body  # unknown keys are refused
    assert "f1 (extraction" in schemas["ModelVersionSummary"]["properties"]["headline_metric"]["description"]
    for path, method, op in _operations(openapi):
        # Every operation can be rate limited, so every one documents when to retry.
        assert "Retry-After" in op["responses"]["429"].get("headers", {}), f"{method.upper()} {path}"
    for path in ("/api/v1/training-jobs", "/api/v1/feedback", "/api/v1/usage"):
        listed = openapi["paths"][path]["get"]
        assert {"limit", "offset"} <= {p["name"] for p in listed.get("parameters", [])}, path
