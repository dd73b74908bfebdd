"""Every check that can stop a training job runs when it is created, without a worker: the API
answers in the error shape, the dashboard and the tenant admin show the message, no job is made.
A version without test rows is not refused: a test set is held out from its training rows."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from inference.models import Model, ModelVersion, TrainingJob
from inference.services.datasets import dataset_upload
from tenants.models import BaseModel
from tests.factories import raw_key
from tests.support import ROLE_PASSWORD

HOST = "alpha.localhost"


def _csv(counts: dict[str, int], split: str | None = None) -> bytes:
    lines = ["text,label" + (",split" if split else "")]
    for label, n in counts.items():
        for i in range(n):
            lines.append(f"{label} request number {i},{label}" + (f",{split}" if split else ""))
    return ("\n".join(lines) + "\n").encode()


def _upload(tenant, name: str, counts: dict[str, int], split: str | None = "train", task="classification"):
    with tenant_context(tenant):
        return dataset_upload(
            name=name, file=_csv(counts, split), filename=f"{name}.csv", task=task, label_column="label"
        )


def _jobs(tenant) -> int:
    with tenant_context(tenant):
        return TrainingJob.objects.count()


@pytest.fixture
def post_job(client, tenant_a):
    key = raw_key(tenant_a)

    def post(body: dict):
        return client.post(
            "/api/v1/training-jobs",
            {"model": "m", **body},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
            HTTP_HOST=HOST,
        )

    return post


def _refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_a_version_with_only_training_rows_is_accepted_and_its_held_out_test_set_is_stated(
    post_job, tenant_a
):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    response = post_job({"dataset": "train-only"})
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["evaluate_on"] == "auto"
    assert job["evaluation"]["test_source"] == "carved"
    assert job["evaluation"]["test_size"] == 12 and job["evaluation"]["train_size"] == 68
    statement = job["evaluation"]["statement"]
    assert "12 examples held out from the training rows" in statement
    assert statement in [event["message"] for event in job["events"]]


def test_a_version_with_a_test_split_is_judged_on_it_and_validation_can_be_chosen(post_job, tenant_a):
    with tenant_context(tenant_a):
        dataset_upload(
            name="splitted",
            file=_csv({"a": 20, "b": 20}),
            filename="s.csv",
            task="classification",
            label_column="label",
        )
    given = post_job({"dataset": "splitted"}).json()["evaluation"]
    assert given["test_source"] == "test" and given["test_size"] == 4
    chosen = post_job({"dataset": "splitted", "evaluate_on": "validation"}).json()["evaluation"]
    assert chosen["test_source"] == "validation" and "optimistic" in chosen["statement"]


@pytest.mark.parametrize(
    ("counts", "needed_total", "short"),
    [({"a": 6, "b": 5}, 14, {}), ({"a": 30, "b": 2}, 14, {"b": 2})],
)
def test_too_few_rows_to_hold_out_a_test_set_are_refused_with_the_number_needed(
    post_job, tenant_a, counts, needed_total, short
):
    _upload(tenant_a, "tiny", counts)
    before = _jobs(tenant_a)
    error = _refused(post_job({"dataset": "tiny"}), 400, "not_enough_examples_to_evaluate")
    assert error["details"]["needed"] == {"total": needed_total, "per_label": 3}
    assert error["details"]["have"]["short"] == short
    assert str(needed_total) in error["message"] or "at least 3" in error["message"]
    assert _jobs(tenant_a) == before


@pytest.mark.parametrize("choice", ["test", "validation"])
def test_choosing_a_split_the_version_does_not_have_is_refused(post_job, tenant_a, choice):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    error = _refused(
        post_job({"dataset": "train-only", "evaluate_on": choice}), 400, "evaluation_split_empty"
    )
    assert error["details"]["evaluate_on"] == choice
    assert _jobs(tenant_a) == 0


def test_an_unknown_evaluate_on_is_refused(post_job, tenant_a):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    _refused(post_job({"dataset": "train-only", "evaluate_on": "everything"}), 400, "validation_failed")
    assert _jobs(tenant_a) == 0


def test_a_single_label_is_refused_before_training(post_job, tenant_a):
    _upload(tenant_a, "one-label", {"only": 40}, split=None)
    error = _refused(post_job({"dataset": "one-label"}), 400, "dataset_not_trainable")
    assert "same label" in error["message"]
    assert _jobs(tenant_a) == 0


def test_an_unknown_base_model_is_refused(post_job, tenant_a):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    _refused(post_job({"dataset": "train-only", "base_model": "no-such-model"}), 400, "unknown_base_model")
    assert _jobs(tenant_a) == 0


def test_a_base_model_whose_files_are_gone_is_refused(post_job, tenant_a, tmp_path):
    BaseModel.objects.create(id="vanished", name="Vanished", path=str(tmp_path / "gone"))
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    error = _refused(
        post_job({"dataset": "train-only", "base_model": "vanished"}), 409, "base_model_unavailable"
    )
    assert "vanished" in error["message"]
    assert _jobs(tenant_a) == 0


@pytest.mark.parametrize("allowed", [0, 1])
def test_the_daily_quota_is_refused(post_job, tenant_a, allowed):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    tenant_a.max_training_jobs_per_day = allowed
    tenant_a.save(update_fields=["max_training_jobs_per_day"])
    if allowed:
        assert post_job({"dataset": "train-only"}).status_code == 201
    error = _refused(post_job({"dataset": "train-only"}), 429, "quota_exceeded")
    assert error["details"]["quota"] == "jobs_per_day"
    assert _jobs(tenant_a) == allowed


def test_the_dashboard_shows_the_refusal_next_to_the_test_set_choice(signed_in, tenant_a):
    _upload(tenant_a, "tiny", {"a": 6, "b": 5})
    client = signed_in("member")
    response = client.post(
        "/training/start/",
        {"dataset": "tiny", "method": "auto", "base_model": "minilm-l6", "evaluate_on": "auto"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "too few training examples to hold out a test set" in page
    assert "Judge the model on" in page
    assert _jobs(tenant_a) == 0


def test_the_tenant_admin_shows_the_refusal(workspace_user, tenant_a):
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    client = Client(HTTP_HOST=HOST)
    client.post(
        "/admin/login/?next=/admin/", {"username": workspace_user("admin"), "password": ROLE_PASSWORD}
    )
    response = client.post(
        "/admin/inference/trainingjob/start/",
        {"dataset": "train-only", "model_name": "m", "base_model": "minilm-l6", "method": "auto",
         "evaluate_on": "validation"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "no validation examples to evaluate on" in response.content.decode()
    assert _jobs(tenant_a) == 0

    started = client.post(
        "/admin/inference/trainingjob/start/",
        {"dataset": "train-only", "model_name": "m", "base_model": "minilm-l6", "method": "auto",
         "evaluate_on": "auto"},
    )  # fmt: skip
    assert started.status_code == 302
    job_page = client.get(started["Location"]).content.decode()
    assert "12 examples held out from the training rows" in job_page


def test_a_method_the_data_cannot_take_is_refused(post_job, tenant_a, monkeypatch):
    def refuse(method, train, task, labels):
        raise ValueError("it needs two examples per label")

    monkeypatch.setattr("inference.services.training.start.choose_method", refuse)
    _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    error = _refused(post_job({"dataset": "train-only", "method": "head"}), 400, "method_not_applicable")
    assert "needs two examples per label" in error["message"]
    assert _jobs(tenant_a) == 0


def test_the_pages_say_which_rows_judge_the_model(post_job, signed_in, tenant_a):
    from tests.factories import model_version

    version = _upload(tenant_a, "train-only", {"a": 40, "b": 40})
    job = post_job({"dataset": "train-only"}).json()
    client = signed_in("viewer")
    page = client.get(f"/training/jobs/{job['id']}/").content.decode()
    assert job["evaluation"]["statement"] in page

    with tenant_context(tenant_a):
        mv = model_version(Model.objects.create(name="router", task="classification"), 1, version)
        ModelVersion.objects.filter(pk=mv.pk).update(
            metrics={
                **mv.metrics,
                "test_size": 12,
                "test_source": "carved",
                "test_statement": "Test set: held out.",
            }
        )
    assert "Test set: held out." in client.get("/models/router/v1/").content.decode()
