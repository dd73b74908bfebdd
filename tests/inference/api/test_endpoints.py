"""What each endpoint answers for its own tenant (no training: rows are built with the ORM)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from core.exceptions import ApplicationError, NotFound
from inference.models import DatasetVersion, Feedback, ModelAlias, TrainingJob
from inference.services.feedback import feedback_apply
from tenants.models import UsageDay
from tests.factories import FeedbackFactory, key_of, raw_key, tenant_objects
from tests.support import ApiClient, csv_file

ROWS = [(f"good thing {i}", "pos") for i in range(10)] + [(f"bad thing {i}", "neg") for i in range(10)]


@pytest.fixture
def objects(tenant_a):
    made = tenant_objects(tenant_a, "alpha-own")
    connection.set_schema_to_public()
    return made


# --- datasets -------------------------------------------------------------------------------


def test_upload_creates_a_dataset_then_adds_versions(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    first = api.post(
        "datasets/tickets/versions", {"file": csv_file(ROWS), "task": "classification"}, multipart=True
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["number"] == 1
    assert body["row_count"] == 20
    assert body["labels"] == ["neg", "pos"]
    assert sum(body["split_counts"].values()) == 20
    assert set(body["label_counts"]) <= {"train", "validation", "test"}
    assert len(body["content_hash"]) == 64
    assert "findings" in body["report"]

    more = ROWS + [("so so", "pos")]
    second = api.post(
        "datasets/tickets/versions",
        {"file": csv_file(more, header=("body", "tag")), "text_column": "body", "label_column": "tag"},
        multipart=True,
    )
    assert second.status_code == 201, second.content
    assert second.json()["number"] == 2

    listed = api.get("datasets").json()["results"]
    assert [(d["name"], d["version_count"], d["latest_version"]) for d in listed] == [("tickets", 2, 2)]
    detail = api.get("datasets/tickets").json()
    assert detail["task"] == "classification" and [v["number"] for v in detail["versions"]] == [2, 1]
    assert api.get("datasets/tickets/versions/1").json()["row_count"] == 20


def test_a_refused_upload_is_400_validation_failed_with_the_report(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = api.post(
        "datasets/tickets/versions",
        {"file": csv_file(ROWS, header=("text", "category")), "task": "classification"},
        multipart=True,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["errors"] and error["details"]["summary"]
    assert "label" in error["message"].lower()


def test_upload_without_a_file_names_the_field(api):
    response = api.post("datasets/tickets/versions", {"task": "classification"}, multipart=True)
    assert response.status_code == 400
    assert "file" in response.json()["error"]["details"]


# --- training jobs --------------------------------------------------------------------------


def test_start_read_and_cancel_a_training_job(api, objects):
    started = api.post(
        "training-jobs", {"dataset": objects.dataset, "model": "new-model", "hyperparameters": {"epochs": 1}}
    )
    assert started.status_code == 201, started.content
    job = started.json()
    assert job["status"] == "queued"
    assert (job["dataset"], job["dataset_version"], job["model"]) == (objects.dataset, 1, "new-model")
    assert job["base_model"] == "minilm-l6" and job["method"] == "auto"
    assert job["events"] and "Queued" in job["events"][0]["message"]
    assert job["model_version"] is None

    assert job["id"] in [j["id"] for j in api.get("training-jobs").json()["results"]]
    assert api.get(f"training-jobs/{job['id']}").json()["hyperparameters"] == {"epochs": 1}

    cancelled = api.post(f"training-jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"training-jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_a_training_request_with_bad_hyperparameters_says_which(api, objects):
    response = api.post(
        "training-jobs", {"dataset": objects.dataset, "model": "m", "hyperparameters": {"epoks": 2}}
    )
    assert response.status_code == 400
    assert "epoks" in response.json()["error"]["message"]


def test_a_training_job_shows_the_version_it_produced(api, objects, tenant_a):
    with schema_context(tenant_a.schema_name):
        job = TrainingJob.objects.get(pk=objects.job_id)
        job.model_version = job.dataset_version.model_versions.get(number=2)
        job.status = "succeeded"
        job.save()
    assert api.get(f"training-jobs/{objects.job_id}").json()["model_version"] == 2


# --- models ---------------------------------------------------------------------------------


def test_models_versions_and_the_full_metrics(api, objects):
    models = api.get("models").json()["results"]
    assert {m["name"]: m["aliases"] for m in models}[objects.model] == {"production": 2}
    detail = api.get(f"models/{objects.model}").json()
    assert [(v["number"], v["aliases"]) for v in detail["versions"]] == [(2, ["production"]), (1, [])]
    versions = api.get(f"models/{objects.model}/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    version = api.get(f"models/{objects.model}/versions/1").json()
    assert version["metrics"] == {"headline": {"name": "accuracy", "value": 0.9}, "per_label": {}}
    assert version["dataset"] == objects.dataset and version["labels"] == ["neg", "pos"]


def test_promote_and_roll_back(api, objects, tenant_a):
    promoted = api.post(f"models/{objects.model}/versions/1/promote", {"alias": "production", "note": ""})
    assert promoted.status_code == 200, promoted.content
    assert promoted.json()["version"] == 1
    staged = api.post(f"models/{objects.model}/versions/2/promote", {"alias": "staging"})
    assert staged.json() | {"updated_at": None} == {
        "model": objects.model, "alias": "staging", "version": 2, "updated_at": None,
    }  # fmt: skip
    rolled = api.post(f"models/{objects.model}/rollback", {"alias": "production"})
    assert rolled.status_code == 200 and rolled.json()["version"] == 2
    with schema_context(tenant_a.schema_name):
        assert ModelAlias.objects.get(model__name=objects.model, alias="production").version.number == 2
    bad = api.post(f"models/{objects.model}/versions/1/promote", {"alias": "canary"})
    assert bad.status_code == 400 and "alias" in bad.json()["error"]["details"]


def test_promotion_gates_refuse_a_low_score_unless_overridden(api, objects, tenant_a, settings):
    settings.SCALPEL_PROMOTION_MIN_METRIC = 0.95
    refused = api.post(f"models/{objects.model}/versions/1/promote", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "quality_gate_failed"
    overridden = api.post(f"models/{objects.model}/versions/1/promote", {"override_reason": "pilot only"})
    assert overridden.status_code == 200


# --- predict and usage ----------------------------------------------------------------------


def test_predict_answers_from_serving_and_meters_the_texts(api, objects, monkeypatch, tenant_a):
    calls = []

    def fake_predict(**kwargs):
        calls.append(kwargs)
        return {
            "model": kwargs["model_name"], "version": 2, "task": "classification", "runtime": "torch",
            "predictions": [
                {"label": "pos", "score": 0.8, "labels": [{"label": "pos", "score": 0.8}, {"label": "neg", "score": 0.2}]}
                for _ in kwargs["inputs"]
            ],
        }  # fmt: skip

    monkeypatch.setattr("inference.services.serving.predict", fake_predict)
    response = api.post(
        f"models/{objects.model}/predict", {"inputs": [" a ", "b"], "version": "production", "top_k": 2}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model"], body["version"], body["task"]) == (objects.model, 2, "classification")
    assert [p["label"] for p in body["predictions"]] == ["pos", "pos"]
    assert calls[0]["inputs"] == [" a ", "b"]  # texts are passed as sent, whitespace included
    assert (calls[0]["version"], calls[0]["top_k"]) == ("production", 2)
    assert api.post(f"models/{objects.model}/predict", {"inputs": ["c"], "version": 1}).status_code == 200
    assert calls[1]["version"] == 1

    usage = UsageDay.objects.get(
        tenant=tenant_a, key_prefix=key_of(api.key).prefix, day=timezone.now().date()
    )
    assert (usage.requests, usage.texts) == (2, 3)
    rows = api.get("usage").json()["results"]
    mine = [r for r in rows if r["key_prefix"] == key_of(api.key).prefix]
    assert mine[0]["texts"] == 3 and mine[0]["requests"] >= 2


def test_usage_lists_only_the_callers_tenant(client, tenant_a, tenant_b):
    b_key = raw_key(tenant_b)
    ApiClient(client, b_key).get("models")
    a = ApiClient(client, raw_key(tenant_a))
    a.get("models")
    prefixes = {r["key_prefix"] for r in a.get("usage").json()["results"]}
    assert key_of(b_key).prefix not in prefixes
    assert key_of(a.key).prefix in prefixes


# --- feedback -------------------------------------------------------------------------------


def test_feedback_is_stored_listed_and_checked(api, objects, tenant_a):
    created = api.post(
        "feedback",
        {
            "model": objects.model,
            "input": "meh",
            "predicted": {"label": "pos"},
            "correct_label": "neg",
            "model_version": 2,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["applied"] is False
    with schema_context(tenant_a.schema_name):
        row = Feedback.objects.get(pk=created.json()["id"])
        assert (row.correct_label, row.model_version, row.api_key_prefix) == (
            "neg",
            2,
            key_of(api.key).prefix,
        )

    listed = api.get("feedback", data={"model": objects.model, "pending": "true"}).json()["results"]
    assert {f["input"] for f in listed} == {"meh", "so good"}

    wrong_kind = api.post("feedback", {"model": objects.model, "input": "x", "correct_labels": ["neg"]})
    assert wrong_kind.status_code == 400 and "correct_label" in wrong_kind.json()["error"]["message"]
    assert api.post("feedback", {"model": "nope", "input": "x", "correct_label": "a"}).status_code == 404
    assert (
        api.post(
            "feedback", {"model": objects.model, "input": "x", "correct_label": "a", "model_version": 9}
        ).status_code
        == 404
    )
    nul = api.post(
        "feedback", {"model": objects.model, "input": "x", "predicted": "a\u0000", "correct_label": "a"}
    )
    assert nul.status_code == 400 and "predicted" in nul.json()["error"]["details"]


def test_feedback_apply_adds_training_rows_and_marks_them_applied(objects, tenant_a):
    with schema_context(tenant_a.schema_name):
        extra = FeedbackFactory(model_name=objects.model, input="truly bad", correct_label="neg")
        version = feedback_apply(feedback_ids=None, dataset_name=objects.dataset, actor="tester")
        assert (version.number, version.source_kind) == (2, "feedback")
        added = version.examples.filter(text__in=["so good", "truly bad"])
        assert {(e.text, e.label, e.split) for e in added} == {
            ("so good", "pos", "train"),
            ("truly bad", "neg", "train"),
        }
        assert set(Feedback.objects.values_list("applied_to", flat=True)) == {version.pk}
        with pytest.raises(ApplicationError, match="no pending feedback"):
            feedback_apply(feedback_ids=None, dataset_name=objects.dataset)
        with pytest.raises(NotFound, match="already applied"):
            feedback_apply(feedback_ids=[extra.pk], dataset_name=objects.dataset)


def test_feedback_apply_refuses_a_label_the_dataset_does_not_have(objects, tenant_a):
    with schema_context(tenant_a.schema_name):
        odd = FeedbackFactory(model_name=objects.model, input="hmm", correct_label="meh")
        with pytest.raises(ApplicationError, match="meh are not in the dataset") as caught:
            feedback_apply(feedback_ids=[odd.pk], dataset_name=objects.dataset)
        assert caught.value.details["problems"][0]["feedback_id"] == odd.pk
        assert DatasetVersion.objects.filter(dataset__name=objects.dataset).count() == 1
        assert Feedback.objects.get(pk=odd.pk).applied_to is None


# --- keys -----------------------------------------------------------------------------------


def test_apikey_create_prints_the_key_alone_on_the_last_line_and_it_works(client, tenant_a):
    out = StringIO()
    call_command("apikey_create", "alpha", "--name", "ci", "--scopes", "read", "predict", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("scl_") and " " not in key
    assert sorted(key_of(key).scopes) == ["predict", "read"]
    assert ApiClient(client, key).get("models").status_code == 200
    assert ApiClient(client, key).post("training-jobs", {}).status_code == 403


def test_tenant_admin_creates_lists_and_revokes_its_own_keys_only(client, tenant_a, tenant_b):
    other = raw_key(tenant_b)
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@alpha.example", "password": "pass-alpha-7391"},
        HTTP_HOST="alpha.localhost",
    )
    added = client.post(
        "/admin/tenants/apikey/add/",
        {"name": "website", "scopes": ["predict"], "expires_at_0": "", "expires_at_1": ""},
        HTTP_HOST="alpha.localhost",
        follow=True,
    )
    assert added.status_code == 200
    messages = [str(m) for m in added.context["messages"]]
    raw = next(m.split("<code>")[1].split("</code>")[0] for m in messages if "not shown again" in m)
    key = key_of(raw)
    assert (key.tenant_id, key.scopes, key.created_by) == (tenant_a.pk, ["predict"], "admin@alpha.example")

    listing = client.get("/admin/tenants/apikey/", HTTP_HOST="alpha.localhost").content.decode()
    assert key.prefix in listing and key_of(other).prefix not in listing
    foreign = client.get(f"/admin/tenants/apikey/{key_of(other).pk}/change/", HTTP_HOST="alpha.localhost")
    assert foreign.status_code == 302  # "doesn't exist" redirect, nothing of the key shown

    connection.set_schema_to_public()
    assert ApiClient(client, raw).post("models/x/predict", {"inputs": ["a"]}).status_code == 404
    client.post(
        "/admin/tenants/apikey/",
        {"action": "revoke", "_selected_action": [key.pk, key_of(other).pk]},
        HTTP_HOST="alpha.localhost",
    )
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key_of(other).revoked_at is None  # another tenant's key cannot be acted on
    connection.set_schema_to_public()
    assert ApiClient(client, raw).post("models/x/predict", {"inputs": ["a"]}).status_code == 401
