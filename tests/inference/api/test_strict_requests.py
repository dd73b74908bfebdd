"""Request bodies are taken as sent or refused with a reason: nothing coerced, nothing silently ignored."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from inference.models import TrainingJob
from tests.factories import ModelVersionFactory, dataset_with_version, tenant_objects
from tests.support import error_of


@pytest.fixture
def objects(tenant_a):
    made = tenant_objects(tenant_a, "alpha-own")
    connection.set_schema_to_public()
    return made


# --- predict ----------------------------------------------------------------------------------


def test_predict_refuses_numbers_among_the_inputs_naming_their_index(api, objects):
    error = error_of(
        api.post(f"models/{objects.model}/predict", {"inputs": ["fine", 2, None]}), 400, "validation_failed"
    )
    assert error["details"] == {
        "inputs": {"1": ["Send a string, not a number."], "2": ["This field may not be null."]}
    }


def test_predict_refuses_top_k_sent_as_a_string(api, objects):
    body = {"inputs": ["fine"], "top_k": "2"}
    error = error_of(api.post(f"models/{objects.model}/predict", body), 400, "validation_failed")
    assert error["details"] == {"top_k": ["Send a whole number, not a string."]}


# --- unknown keys -----------------------------------------------------------------------------

UNKNOWN_KEY_CASES = [
    ("models/{model}/predict", {"inputs": ["hi"], "topk": 3}, "topk", "inputs, version, top_k"),
    (
        "training-jobs",
        {"dataset": "{dataset}", "model": "m", "hyperparameter": {"epochs": 1}},
        "hyperparameter",
        "dataset, dataset_version, model, base_model, method, hyperparameters, time_budget_seconds, evaluate_on",
    ),
    (
        "models/{model}/versions/1/promote",
        {"alias": "staging", "forced": True},
        "forced",
        "alias, override_reason, note",
    ),
    ("models/{model}/rollback", {"alais": "staging"}, "alais", "alias"),
    (
        "feedback",
        {"model": "{model}", "input": "meh", "label": "neg"},
        "label",
        "model, input, predicted, correct_label, correct_labels, correct_entities, model_version",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "unknown", "accepted"), UNKNOWN_KEY_CASES, ids=[c[0] for c in UNKNOWN_KEY_CASES]
)
def test_an_unknown_body_key_is_refused_naming_it_and_the_accepted_ones(
    api, objects, path, body, unknown, accepted
):
    names = {"model": objects.model, "dataset": objects.dataset}
    body = {k: v.format(**names) if isinstance(v, str) else v for k, v in body.items()}
    error = error_of(api.post(path.format(**names), body), 400, "validation_failed")
    assert error["details"][unknown] == [f"Unknown field. Accepted fields: {accepted}."]


def test_an_unknown_key_is_listed_beside_the_other_field_errors(api, objects):
    error = error_of(api.post(f"models/{objects.model}/predict", {"topk": 3}), 400, "validation_failed")
    assert set(error["details"]) == {"inputs", "topk"}


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_with_a_label_the_model_does_not_have_is_refused_at_once(api, objects):
    body = {"model": objects.model, "input": "meh", "correct_label": "zzz-not-a-label"}
    error = error_of(api.post("feedback", body), 400, "validation_failed")
    assert error["message"] == f"'zzz-not-a-label' is not a label of '{objects.model}'. Its labels: neg, pos."
    assert error["details"] == {
        "correct_label": {"unknown_labels": ["zzz-not-a-label"], "labels": ["neg", "pos"]}
    }
    body["correct_label"] = "neg"
    assert api.post("feedback", body).status_code == 201


def test_feedback_entities_with_an_unknown_type_are_refused(api, tenant_a):
    with schema_context(tenant_a.schema_name):
        ModelVersionFactory(
            model__name="ner",
            model__task="extraction",
            dataset_version=dataset_with_version("tweets", rows=[("x", "person")] * 4),
            labels=["location", "person"],
        )
    entities = [{"start": 0, "end": 3, "label": "person"}, {"start": 4, "end": 8, "label": "planet"}]
    body = {"model": "ner", "input": "Ana Mars", "correct_entities": entities}
    error = error_of(api.post("feedback", body), 400, "validation_failed")
    assert "'planet' is not a label of 'ner'" in error["message"]
    body["correct_entities"] = entities[:1]
    assert api.post("feedback", body).status_code == 201


# --- training jobs ----------------------------------------------------------------------------


def test_hyperparameter_errors_are_given_per_field(api, objects):
    body = {"dataset": objects.dataset, "model": "m", "hyperparameters": {"lr": 1e-3, "learning_rate": 5}}
    error = error_of(api.post("training-jobs", body), 400, "validation_failed")
    assert error["details"] == {
        "hyperparameters": {"learning_rate": "must be a number between 1e-07 and 1", "unknown": ["lr"]}
    }
    assert "unknown hyperparameter(s): lr" in error["message"]  # the one-line summary stays


def test_lora_target_modules_the_base_model_lacks_are_refused_at_creation(api, objects):
    body = {
        "dataset": objects.dataset,
        "model": "m",
        "method": "lora",
        "hyperparameters": {"lora_target_modules": ["query", "nonexistent"]},
    }
    error = error_of(api.post("training-jobs", body), 400, "validation_failed")
    problem = error["details"]["hyperparameters"]["lora_target_modules"]
    assert problem.startswith("no layer of the base model is named nonexistent")
    assert "query" in problem and "value" in problem  # the names it could have used
    body["hyperparameters"] = {"lora_target_modules": ["query", "value"]}
    assert api.post("training-jobs", body).status_code == 201


def test_a_setting_the_requested_method_does_not_use_is_refused_at_creation(api, objects):
    body = {"dataset": objects.dataset, "model": "m", "method": "head", "hyperparameters": {"lora_r": 16}}
    error = error_of(api.post("training-jobs", body), 400, "validation_failed")
    assert error["details"] == {"hyperparameters": {"lora_r": "applies to method lora only, not head"}}
    body["method"] = "lora"
    assert api.post("training-jobs", body).status_code == 201


def test_freezing_more_layers_than_the_base_model_has_is_refused_at_creation(api, objects):
    body = {
        "dataset": objects.dataset,
        "model": "m",
        "method": "full",
        "hyperparameters": {"freeze_layers": 6},
    }
    error = error_of(api.post("training-jobs", body), 400, "validation_failed")
    assert error["details"] == {
        "hyperparameters": {"freeze_layers": "would freeze all 6 layers of the base model: use method head"}
    }
    body["hyperparameters"] = {"freeze_layers": 2, "freeze_embeddings": False}
    error = error_of(api.post("training-jobs", body), 400, "validation_failed")
    assert error["details"]["hyperparameters"] == {
        "freeze_layers": "freezes the embeddings too: leave freeze_embeddings true"
    }
    body["hyperparameters"] = {"freeze_layers": 2}
    assert api.post("training-jobs", body).status_code == 201


def test_a_missing_dataset_version_is_named_in_plain_words(api, objects):
    body = {"dataset": objects.dataset, "model": "m", "dataset_version": 7}
    error = error_of(api.post("training-jobs", body), 404, "not_found")
    assert error["message"] == f"The dataset '{objects.dataset}' has no version 7."


def test_the_concurrent_jobs_quota_is_429_with_retry_after(api, objects, tenant_a):
    tenant_a.max_concurrent_training_jobs = 1  # the queued job of `objects` is the one allowed
    tenant_a.save(update_fields=["max_concurrent_training_jobs"])
    response = api.post("training-jobs", {"dataset": objects.dataset, "model": "m"})
    error = error_of(response, 429, "quota_exceeded")
    assert response["Retry-After"] == "60" and error["details"]["retry_after"] == 60


def test_the_daily_jobs_quota_is_429_with_retry_after_until_a_slot_frees(api, objects, tenant_a):
    with schema_context(tenant_a.schema_name):  # the oldest job of the window started 23 hours ago
        started = timezone.now() - timezone.timedelta(hours=23)
        TrainingJob.objects.filter(pk=objects.job_id).update(
            status="succeeded", created_at=started, started_at=started
        )
    tenant_a.max_training_jobs_per_day = 1
    tenant_a.save(update_fields=["max_training_jobs_per_day"])
    response = api.post("training-jobs", {"dataset": objects.dataset, "model": "m"})
    error = error_of(response, 429, "quota_exceeded")
    assert 3500 <= int(response["Retry-After"]) <= 3600
    assert error["details"] == {"quota": "jobs_per_day", "retry_after": int(response["Retry-After"])}
    assert "The next one can start in " in error["message"]


# --- lists ------------------------------------------------------------------------------------


def _row_id(row: dict):
    return row.get("id") or (row["day"], row["key_prefix"])  # usage rows count on as we call


@pytest.mark.parametrize("path", ["training-jobs", "feedback", "usage"])
def test_lists_say_how_many_rows_there_are_and_page_through_them(api, objects, path):
    api.get("datasets")  # one more usage row source, so every list has at least one row
    full = api.get(path).json()
    assert full["count"] == len(full["results"]) >= 1 and full["offset"] == 0 and full["limit"] >= 200
    page = api.get(path, data={"limit": 1, "offset": full["count"]}).json()
    assert page["results"] == [] and page["count"] == full["count"] and page["limit"] == 1
    first = api.get(path, data={"limit": 1}).json()
    assert [_row_id(r) for r in first["results"]] == [_row_id(r) for r in full["results"][:1]]
    huge = api.get(path, data={"limit": 10**6}).json()
    assert huge["limit"] == full["limit"]  # capped, and the answer says so
    error_of(api.get(path, data={"offset": -1}), 400, "validation_failed")


@pytest.mark.parametrize("path", ["datasets", "models", "models/{model}/versions"])
def test_datasets_models_and_versions_page_like_every_other_list(api, objects, path):
    path = path.format(model=objects.model)
    full = api.get(path).json()
    assert full["count"] == len(full["results"]) >= 1 and (full["limit"], full["offset"]) == (500, 0)
    page = api.get(path, data={"limit": 1, "offset": 1}).json()
    assert page["results"] == full["results"][1:2] and page["count"] == full["count"]
    assert api.get(path, data={"limit": 10**6}).json()["limit"] == 500
    error_of(api.get(path, data={"limit": 0}), 400, "validation_failed")
