"""Idempotency-Key on API POSTs: a retry gets the first answer and does no work; a reused key with
another request is refused; concurrent duplicates do the work once."""

from __future__ import annotations

import threading

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from inference.models import DatasetVersion, Feedback, ModelAlias, TrainingJob
from tenants.models import IdempotencyRecord
from tenants.services.idempotency import idempotency_purge
from tests.factories import key_of, raw_key, tenant_objects
from tests.support import ApiClient, csv_file

ROWS = [(f"good thing {i}", "pos") for i in range(10)] + [(f"bad thing {i}", "neg") for i in range(10)]


def _feedback(model: str, label: str = "pos") -> dict:
    return {"model": model, "input": "so good", "correct_label": label}


def _count(tenant, model) -> int:
    with schema_context(tenant.schema_name):
        return model.objects.count()


def test_a_retried_feedback_post_gets_the_first_answer_and_adds_nothing(api, tenant_a):
    objects = tenant_objects(tenant_a, "ik")
    before = _count(tenant_a, Feedback)
    first = api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="fb-0001")
    again = api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="fb-0001")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert _count(tenant_a, Feedback) == before + 1


def test_a_retried_job_start_and_promotion_do_their_work_once(api, tenant_a):
    objects = tenant_objects(tenant_a, "ij")
    tenant_a.max_concurrent_training_jobs = 10
    tenant_a.save(update_fields=["max_concurrent_training_jobs"])
    body = {"dataset": objects.dataset, "model": "fresh"}
    jobs = [api.post("training-jobs", body, HTTP_IDEMPOTENCY_KEY="job-1") for _ in range(3)]
    assert [r.status_code for r in jobs] == [201, 201, 201]
    assert len({r.json()["id"] for r in jobs}) == 1
    assert _count(tenant_a, TrainingJob) == 2  # the factory's job and this one
    path = f"models/{objects.model}/versions/1/promote"
    body = {"override_reason": "a test fixture"}
    promoted = [api.post(path, body, HTTP_IDEMPOTENCY_KEY="promote-1") for _ in range(2)]
    assert promoted[0].status_code == promoted[1].status_code == 200, promoted[0].content
    assert promoted[1]["Idempotent-Replayed"] == "true"
    with schema_context(tenant_a.schema_name):
        assert ModelAlias.objects.get(model__name=objects.model, alias="production").version.number == 1
        # One promotion in the alias history, not two.
        assert (
            ModelAlias.objects.get(model__name=objects.model, alias="production")
            .model.alias_changes.filter(to_version=1)
            .count()
            == 1
        )


def test_a_retried_upload_makes_one_version(api, tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    answers = [
        api.post("datasets/idem/versions", {"file": csv_file(ROWS), "task": "classification"},
                 multipart=True, HTTP_IDEMPOTENCY_KEY="upload-1")
        for _ in range(2)
    ]  # fmt: skip
    assert [r.status_code for r in answers] == [201, 201] and answers[0].json() == answers[1].json()
    with schema_context(tenant_a.schema_name):
        assert DatasetVersion.objects.filter(dataset__name="idem").count() == 1
    other_file = api.post(
        "datasets/idem/versions", {"file": csv_file(ROWS[:-1]), "task": "classification"},
        multipart=True, HTTP_IDEMPOTENCY_KEY="upload-1",
    )  # fmt: skip
    assert other_file.status_code == 422
    assert other_file.json()["error"]["code"] == "idempotency_key_reused"


def test_the_same_key_with_another_body_or_path_is_refused_with_422(api, tenant_a):
    objects = tenant_objects(tenant_a, "ir")
    assert api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    for path, body in (("feedback", _feedback(objects.model, "neg")), ("training-jobs", {"dataset": "x"})):
        response = api.post(path, body, HTTP_IDEMPOTENCY_KEY="k-1")
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_reused" and "different request" in error["message"]


def test_keys_are_scoped_to_the_api_key(client, tenant_a):
    objects = tenant_objects(tenant_a, "is")
    one, two = ApiClient(client, raw_key(tenant_a)), ApiClient(client, raw_key(tenant_a))
    before = _count(tenant_a, Feedback)
    assert one.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    second = two.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert _count(tenant_a, Feedback) == before + 2


def test_an_error_answer_is_not_kept_so_the_corrected_request_can_use_the_key(api, tenant_a):
    objects = tenant_objects(tenant_a, "ie")
    refused = api.post("feedback", {"model": objects.model}, HTTP_IDEMPOTENCY_KEY="fix-me")
    assert refused.status_code == 400
    assert api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="fix-me").status_code == 201


def test_a_key_still_in_progress_is_409_with_retry_after(api, tenant_a):
    objects = tenant_objects(tenant_a, "ip")
    key = key_of(api.key)
    body = _feedback(objects.model)
    api.post("feedback", body, HTTP_IDEMPOTENCY_KEY="busy")
    IdempotencyRecord.objects.filter(api_key=key, key="busy").update(state="in_progress")
    response = api.post("feedback", body, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409 and response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "idempotency_key_in_use"


def test_after_24_hours_the_key_is_forgotten(api, tenant_a):
    objects = tenant_objects(tenant_a, "io")
    before = _count(tenant_a, Feedback)
    api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timezone.timedelta(hours=25)
    )
    again = api.post("feedback", _feedback(objects.model), HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert _count(tenant_a, Feedback) == before + 2
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timezone.timedelta(hours=25)
    )
    assert idempotency_purge() >= 1 and not IdempotencyRecord.objects.filter(key="old").exists()


@pytest.mark.parametrize("value", ["", "x" * 256, "has space", "naïve"])
def test_a_malformed_key_is_400_validation_failed(api, tenant_a, value):
    response = api.post("feedback", {}, HTTP_IDEMPOTENCY_KEY=value)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"header": "Idempotency-Key"}


def test_concurrent_duplicates_do_the_work_once(live_tenant):
    with schema_context(live_tenant.schema_name):
        objects_model = tenant_objects(live_tenant, "cc").model
    key = raw_key(live_tenant)
    barrier = threading.Barrier(6)
    answers: list[tuple[int, str | None]] = []

    def post():
        from django.db import connections

        try:
            barrier.wait()
            response = ApiClient(Client(), key).post(
                "feedback", _feedback(objects_model), HTTP_IDEMPOTENCY_KEY="race-1"
            )
            answers.append((response.status_code, response.get("Idempotent-Replayed")))
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 6
    assert [a for a in answers if a == (201, None)] == [(201, None)]  # one did the work
    assert all(a in ((201, "true"), (409, None)) for a in answers if a != (201, None))
    with schema_context(live_tenant.schema_name):
        assert Feedback.objects.count() == 2  # the factory's and this one


def test_every_post_operation_documents_the_idempotency_key(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    posts = [(path, ops["post"]) for path, ops in schema["paths"].items() if "post" in ops]
    assert len(posts) >= 5
    for path, op in posts:
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in names, path
