"""Every endpoint: another tenant's objects are 404; bad, revoked, expired or scope-less keys are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from inference.models import Dataset, DatasetVersion, Feedback, TrainingJob
from tenants import services
from tenants.models import ApiKey
from tests.factories import ALL_SCOPES, raw_key, tenant_objects
from tests.support import ApiClient, csv_file


def _upload_body(_objects):
    return {"file": csv_file([("fine", "pos"), ("bad", "neg")])}


# (name, method, path, scope, body, kind): kind "object" answers 404 for another tenant's object,
# "list" lists only the caller's rows, "create" makes the caller's own row.
ENDPOINTS = [
    ("dataset_list", "GET", "datasets", "read", None, "list"),
    ("dataset_retrieve", "GET", "datasets/{dataset}", "read", None, "object"),
    ("dataset_version_upload", "POST", "datasets/{dataset}/versions", "data", _upload_body, "create"),
    ("dataset_version_retrieve", "GET", "datasets/{dataset}/versions/1", "read", None, "object"),
    ("training_job_list", "GET", "training-jobs", "read", None, "list"),
    (
        "training_job_create", "POST", "training-jobs", "train",
        lambda o: {"dataset": o.dataset, "model": "fresh-model"}, "object",
    ),
    ("training_job_retrieve", "GET", "training-jobs/{job}", "read", None, "object"),
    ("training_job_cancel", "POST", "training-jobs/{job}/cancel", "train", None, "object"),
    ("model_list", "GET", "models", "read", None, "list"),
    ("model_retrieve", "GET", "models/{model}", "read", None, "object"),
    ("model_version_list", "GET", "models/{model}/versions", "read", None, "object"),
    ("model_version_retrieve", "GET", "models/{model}/versions/1", "read", None, "object"),
    ("model_version_promote", "POST", "models/{model}/versions/1/promote", "admin", lambda o: {"override_reason": "tried"}, "object"),
    ("model_version_compare", "GET", "models/{model}/compare?a=1&b=2", "read", None, "object"),
    ("model_rollback", "POST", "models/{model}/rollback", "admin", lambda o: {}, "object"),
    ("model_predict", "POST", "models/{model}/predict", "predict", lambda o: {"inputs": ["hello"]}, "object"),
    ("feedback_list", "GET", "feedback", "read", None, "list"),
    (
        "feedback_create", "POST", "feedback", "predict",
        lambda o: {"model": o.model, "input": "meh", "correct_label": "neg"}, "object",
    ),
    ("usage_list", "GET", "usage", "read", None, "list"),
]  # fmt: skip
IDS = [e[0] for e in ENDPOINTS]


def _request(api: ApiClient, endpoint, objects, **kwargs):
    _, method, path, _, body, _ = endpoint
    url = path.format(dataset=objects.dataset, model=objects.model, job=objects.job_id)
    multipart = endpoint[0] == "dataset_version_upload"
    payload = body(objects) if body else ({} if method == "POST" else None)
    return api.call(method, url, payload, multipart=multipart, **kwargs)


@pytest.fixture
def b_objects(tenant_b):
    return tenant_objects(tenant_b, "beta-only")


@pytest.fixture
def a_objects(tenant_a):
    return tenant_objects(tenant_a, "alpha-own")


def _assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_key_of_tenant_a_never_reaches_tenant_bs_objects(endpoint, client, tenant_a, tenant_b, b_objects):
    # Given B's dataset, job, model and feedback; when A's all-scope key names them
    api = ApiClient(client, raw_key(tenant_a))
    with schema_context(tenant_a.schema_name):
        assert not TrainingJob.objects.filter(pk=b_objects.job_id).exists()  # ids are per schema
    response = _request(api, endpoint, b_objects)
    kind = endpoint[5]
    # then it is a 404 (never a 403 that would confirm the object exists) ...
    if kind == "object":
        _assert_error(response, 404, "not_found")
    elif kind == "list":
        assert response.status_code == 200
        text = response.content.decode()
        assert "beta-only" not in text and b_objects.dataset not in text
    else:
        # ... and writing to B's dataset name makes (or asks about) a dataset of A's own.
        _assert_error(response, 400, "validation_failed")
        assert response.json()["error"]["details"]["reason"] == "task_required"
    # B's rows are untouched.
    with schema_context(tenant_b.schema_name):
        assert DatasetVersion.objects.filter(dataset__name=b_objects.dataset).count() == 1
        assert TrainingJob.objects.get(pk=b_objects.job_id).status == "queued"
        assert Feedback.objects.count() == 1
    with schema_context(tenant_a.schema_name):
        assert not Dataset.objects.filter(name=b_objects.dataset).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_no_key_is_401(endpoint, client, a_objects):
    response = _request(ApiClient(client), endpoint, a_objects)
    _assert_error(response, 401, "invalid_api_key")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_revoked_key_is_401_on_its_next_request(endpoint, client, tenant_a, a_objects):
    raw = raw_key(tenant_a)
    assert ApiClient(client, raw).get("datasets").status_code == 200  # used, so held in memory
    services.api_key_revoke(key=ApiKey.objects.get(prefix=raw.split("_")[1]))
    response = _request(ApiClient(client, raw), endpoint, a_objects)
    _assert_error(response, 401, "invalid_api_key")
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_an_expired_key_is_401(endpoint, client, tenant_a, a_objects):
    raw = raw_key(tenant_a, expires_at=timezone.now() + timedelta(hours=1))
    assert ApiClient(client, raw).get("datasets").status_code == 200
    key = ApiKey.objects.get(prefix=raw.split("_")[1])
    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save(update_fields=["expires_at"])
    response = _request(ApiClient(client, raw), endpoint, a_objects)
    _assert_error(response, 401, "invalid_api_key")
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_key_without_the_endpoints_scope_is_403(endpoint, client, tenant_a, a_objects):
    scope = endpoint[3]
    # Without "admin" as well, which holds every scope.
    raw = raw_key(tenant_a, scopes=[s for s in ALL_SCOPES if s not in (scope, "admin")])
    response = _request(ApiClient(client, raw), endpoint, a_objects)
    _assert_error(response, 403, "insufficient_scope")
    assert response.json()["error"]["details"]["required_scope"] == scope


def test_a_garbage_key_is_401(client, db):
    response = ApiClient(client, "scl_deadbeef_nope").get("datasets")
    _assert_error(response, 401, "invalid_api_key")
