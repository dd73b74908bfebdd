"""The tenant admin's model registry and training pages: deletion through the service, evaluation,
comparison, job progress and the start form's time limit."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from inference.admin.training import progress_text
from inference.models import Model, ModelVersion, TrainingJob
from inference.services import registry
from inference.services.datasets import dataset_upload
from tests.factories import ModelFactory, tenant_model_version

ALPHA = "alpha.localhost"
LABELS = ["card_arrival", "change_pin", "lost_card"]


@pytest.fixture
def alpha_admin(client, tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@alpha.example", "password": "pass-alpha-7391"},
        HTTP_HOST=ALPHA,
    )
    assert response.status_code == 302
    connection.set_tenant(tenant_a)
    return client


def version_with_files(model: Model, number: int, *, metrics: dict | None = None) -> ModelVersion:
    version = tenant_model_version(model, number)
    version.artifact_manifest = {"files": {"head.safetensors": "x"}}
    if metrics is not None:
        version.metrics = metrics
    version.save()
    default_storage.save(f"{version.artifact_path}/head.safetensors", ContentFile(b"weights"))
    default_storage.save(f"{version.artifact_path}/manifest.json", ContentFile(b"{}"))
    return version


def files_exist(version: ModelVersion) -> bool:
    return default_storage.exists(f"{version.artifact_path}/head.safetensors")


def page(response) -> str:
    return response.content.decode()


# ---- deleting models and versions ----------------------------------------------------------------


def test_deleting_a_model_in_the_admin_removes_its_version_files(
    alpha_admin, django_capture_on_commit_callbacks
):
    model = ModelFactory(name="router")
    v1, v2 = version_with_files(model, 1), version_with_files(model, 2)

    with django_capture_on_commit_callbacks(execute=True):
        response = alpha_admin.post(
            f"/admin/inference/model/{model.pk}/delete/", {"post": "yes"}, HTTP_HOST=ALPHA, follow=True
        )

    assert response.status_code == 200
    assert not Model.objects.filter(pk=model.pk).exists()
    assert not files_exist(v1) and not files_exist(v2)


def test_a_model_with_an_aliased_version_is_not_deleted_and_the_admin_says_why(alpha_admin):
    model = ModelFactory(name="router")
    v1 = version_with_files(model, 1)
    registry.model_version_promote(version=v1)

    confirm = alpha_admin.get(f"/admin/inference/model/{model.pk}/delete/", HTTP_HOST=ALPHA, follow=True)
    posted = alpha_admin.post(
        f"/admin/inference/model/{model.pk}/delete/", {"post": "yes"}, HTTP_HOST=ALPHA, follow=True
    )

    for response in (confirm, posted):
        assert response.redirect_chain[-1][0].endswith(f"/admin/inference/model/{model.pk}/change/")
        assert "cannot be deleted while an alias points at one of its versions" in page(response)
        assert "v1 is its production version" in page(response)
    assert f'/admin/inference/modelversion/{v1.pk}/change/">v1</a>' in page(posted)  # the versions table
    assert Model.objects.filter(pk=model.pk).exists() and files_exist(v1)


def test_taking_the_alias_off_in_the_admin_lets_a_retired_model_be_deleted(
    alpha_admin, django_capture_on_commit_callbacks
):
    model = ModelFactory(name="router")
    v1 = version_with_files(model, 1)
    registry.model_version_promote(version=v1)

    response = alpha_admin.post(
        "/admin/inference/model/",
        {"action": "remove_production", "_selected_action": [model.pk]},
        HTTP_HOST=ALPHA,
        follow=True,
    )
    assert "outer: production no longer points at v1." in page(response)  # the admin capitalises
    removal = model.alias_changes.get(action="remove")
    assert (removal.alias, removal.from_version, removal.to_version) == ("production", 1, None)
    assert removal.actor == "admin@alpha.example"
    again = alpha_admin.post(
        "/admin/inference/model/",
        {"action": "remove_production", "_selected_action": [model.pk]},
        HTTP_HOST=ALPHA,
        follow=True,
    )
    assert "&#x27;router&#x27; has no production version." in page(again)

    with django_capture_on_commit_callbacks(execute=True):
        alpha_admin.post(f"/admin/inference/model/{model.pk}/delete/", {"post": "yes"}, HTTP_HOST=ALPHA)
    assert not Model.objects.filter(pk=model.pk).exists() and not files_exist(v1)


def test_delete_selected_models_deletes_the_free_ones_with_their_files_and_refuses_the_rest(
    alpha_admin, django_capture_on_commit_callbacks
):
    free, serving = (ModelFactory(name=n) for n in ("old", "router"))
    free_version, serving_version = version_with_files(free, 1), version_with_files(serving, 1)
    registry.model_version_promote(version=serving_version)
    selected = {"action": "delete_selected", "_selected_action": [free.pk, serving.pk]}

    confirm = page(alpha_admin.post("/admin/inference/model/", selected, HTTP_HOST=ALPHA))
    # The refused one is named with the reason; the confirmation covers only the other.
    assert "v1 is its production version" in confirm and "Are you sure" in confirm
    assert f'name="_selected_action" value="{free.pk}"' in confirm
    assert f'name="_selected_action" value="{serving.pk}"' not in confirm
    with django_capture_on_commit_callbacks(execute=True):
        done = alpha_admin.post(
            "/admin/inference/model/", {**selected, "post": "yes"}, HTTP_HOST=ALPHA, follow=True
        )

    html = page(done)
    assert "Deleted 1 model and their files" in html
    assert "v1 is its production version" in html
    assert not Model.objects.filter(pk=free.pk).exists() and not files_exist(free_version)
    assert Model.objects.filter(pk=serving.pk).exists() and files_exist(serving_version)


def test_deleting_an_aliased_version_is_refused_with_the_services_reason(alpha_admin):
    model = ModelFactory(name="router")
    v1 = version_with_files(model, 1)
    registry.model_version_promote(version=v1)

    response = alpha_admin.get(f"/admin/inference/modelversion/{v1.pk}/delete/", HTTP_HOST=ALPHA, follow=True)

    html = page(response)  # the admin capitalises messages: "V1 is …"
    assert (
        "1 is the production version of &#x27;router&#x27;: promote another version, or take the alias off the model, first"
        in html
    )
    assert ModelVersion.objects.filter(pk=v1.pk).exists()


def test_delete_selected_versions_goes_through_the_service(alpha_admin, django_capture_on_commit_callbacks):
    model = ModelFactory(name="router")
    v1, v2 = version_with_files(model, 1), version_with_files(model, 2)

    with django_capture_on_commit_callbacks(execute=True):
        alpha_admin.post(
            "/admin/inference/modelversion/",
            {"action": "delete_selected", "_selected_action": [v2.pk], "post": "yes"},
            HTTP_HOST=ALPHA,
        )

    assert list(model.versions.values_list("number", flat=True)) == [1]
    assert files_exist(v1) and not files_exist(v2)


# ---- evaluation and comparison -------------------------------------------------------------------


def classification_metrics(labels: list[str]) -> dict:
    n = len(labels)
    matrix = [[5 if i == j else 0 for j in range(n)] for i in range(n)]
    matrix[0][1] = 2
    return {
        "headline": {"name": "accuracy", "value": 0.9},
        "accuracy": 0.9,
        "per_label": {label: {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 5} for label in labels},
        "confusion_matrix": {"labels": labels, "matrix": matrix},
        "most_confused": [{"true": labels[0], "predicted": labels[1], "count": 2}],
    }


def test_the_version_page_shows_the_confusion_matrix_and_links_to_compare(alpha_admin):
    model = ModelFactory(name="router")
    v1 = version_with_files(model, 1)
    v2 = version_with_files(model, 2, metrics=classification_metrics(LABELS))

    html = page(alpha_admin.get(f"/admin/inference/modelversion/{v2.pk}/change/", HTTP_HOST=ALPHA))

    assert "Most confused pairs" in html and "Confusion matrix" in html
    assert '<th scope="row" title="card_arrival">card_arrival</th>' in html
    assert "<strong>5</strong>" in html and '<td style="text-align:right">2</td>' in html
    assert f"/admin/inference/modelversion/compare/?v={v2.pk}&amp;v={v1.pk}" in html


def test_a_large_confusion_matrix_keeps_the_labels_with_the_most_mistakes(alpha_admin):
    model = ModelFactory(name="router")
    labels = [f"label_{i:02d}" for i in range(40)]
    version = version_with_files(model, 1, metrics=classification_metrics(labels))

    html = page(alpha_admin.get(f"/admin/inference/modelversion/{version.pk}/change/", HTTP_HOST=ALPHA))

    assert "The 30 labels involved in the most mistakes, of 40." in html
    assert 'title="label_00"' in html and 'title="label_01"' in html


def test_compare_with_one_version_offers_the_others_and_two_versions_compare(alpha_admin):
    model = ModelFactory(name="router")
    v1, v2 = version_with_files(model, 1), version_with_files(model, 2)

    chooser = page(alpha_admin.get(f"/admin/inference/modelversion/compare/?v={v2.pk}", HTTP_HOST=ALPHA))
    assert "Compare router v2 with" in chooser and f"?v={v2.pk}&amp;v={v1.pk}" in chooser
    compared = alpha_admin.get(f"/admin/inference/modelversion/compare/?v={v2.pk}&v={v1.pk}", HTTP_HOST=ALPHA)
    assert compared.status_code == 200 and "router: v1 against v2" in page(compared)


def test_the_compare_action_opens_the_comparison_of_two_selected_versions(alpha_admin):
    model = ModelFactory(name="router")
    v1, v2 = version_with_files(model, 1), version_with_files(model, 2)

    response = alpha_admin.post(
        "/admin/inference/modelversion/",
        {"action": "compare_selected", "_selected_action": [v1.pk, v2.pk]},
        HTTP_HOST=ALPHA,
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/inference/modelversion/compare/?v=")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("v=abc", "“abc” is not a version id"),
        ("v=1&v=x", "“x” is not a version id"),
        ("v=99999999999999999999999", "is not a version id"),
        ("v=987654321", "There is no version with id 987654321 in this workspace"),
        ("", "Choose one or two versions to compare"),
    ],
)
def test_a_bad_compare_query_gives_an_admin_message_not_a_server_error(alpha_admin, query, message):
    response = alpha_admin.get(
        f"/admin/inference/modelversion/compare/?{query}", HTTP_HOST=ALPHA, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("/admin/inference/modelversion/")
    assert message in page(response)


# ---- training jobs -------------------------------------------------------------------------------


def test_the_progress_column_shows_steps_validation_metric_and_speed(tenant_a):
    job = TrainingJob(
        status=TrainingJob.Status.RUNNING,
        progress={
            "phase": "training", "epoch": 1, "epochs": 3, "step": 40, "total_steps": 120, "loss": 0.8123,
            "val_metric": 0.9125, "val_metric_name": "accuracy", "examples_per_second": 71.4, "eta_seconds": 95,
        },
    )  # fmt: skip

    assert progress_text(job) == (
        "training · epoch 1/3 · step 40/120 · loss 0.812 · val accuracy 0.912 · 71 ex/s · 95 s left"
    )


def test_the_start_form_sets_the_jobs_time_budget(alpha_admin):
    rows = "".join(f"text {label} {i},{label}\n" for label in LABELS for i in range(10))
    dataset_upload(
        name="support", file=f"text,label\n{rows}".encode(), filename="support.csv", task="classification",
        text_column="text", label_column="label", actor="test",
    )  # fmt: skip

    form = page(alpha_admin.get("/admin/inference/trainingjob/start/", HTTP_HOST=ALPHA))
    assert 'name="time_budget_minutes"' in form and "Time limit (minutes)" in form
    response = alpha_admin.post(
        "/admin/inference/trainingjob/start/",
        {"dataset": "support", "model_name": "support", "base_model": "minilm-l6", "method": "auto",
         "time_budget_minutes": "5"},
        HTTP_HOST=ALPHA,
    )  # fmt: skip

    assert response.status_code == 302
    assert TrainingJob.objects.get(model_name="support").time_budget_seconds == 300


# ---- the quality gate and honest figures ---------------------------------------------------------


def test_the_version_page_shows_the_interval_and_the_small_test_warning(alpha_admin):
    model = Model.objects.create(name="router", task="classification")
    metrics = classification_metrics(LABELS) | {
        "task": "classification", "test_size": 15, "confidence_interval": [0.71, 0.98],
    }  # fmt: skip
    version = version_with_files(model, 1, metrics=metrics)

    html = page(alpha_admin.get(f"/admin/inference/modelversion/{version.pk}/change/", HTTP_HOST=ALPHA))

    assert "95% confidence interval of accuracy: 0.710 – 0.980" in html
    assert "Small test set: this score rests on 15 test texts (fewer than 100)" in html


def test_promotion_refused_by_the_gate_says_why_and_the_override_asks_for_a_reason(alpha_admin):
    model = Model.objects.create(name="router", task="classification")
    weak = tenant_model_version(model, 1, 0.55, baseline=0.6)
    selected = {"_selected_action": [weak.pk]}

    refused = alpha_admin.post(
        "/admin/inference/modelversion/",
        {"action": "promote_production", **selected},
        HTTP_HOST=ALPHA,
        follow=True,
    )
    assert "beats its baseline&#x27;s 0.600 by -0.050, less than the required 0.010" in page(refused)
    assert not model.aliases.exists()

    override = {"action": "override_promote_production", **selected}
    asked = page(alpha_admin.post("/admin/inference/modelversion/", override, HTTP_HOST=ALPHA))
    assert 'id="gate-problems"' in asked and 'name="override_reason"' in asked
    blank = page(
        alpha_admin.post(
            "/admin/inference/modelversion/", {**override, "override_reason": " "}, HTTP_HOST=ALPHA
        )
    )
    assert "Say why this version should be served" in blank and not model.aliases.exists()

    done = alpha_admin.post(
        "/admin/inference/modelversion/",
        {**override, "override_reason": "a pilot with two users"},
        HTTP_HOST=ALPHA,
        follow=True,
    )
    assert "outer v1 is now production." in page(done)  # the admin capitalises
    change = model.alias_changes.get()
    assert (change.forced, change.override_reason, change.actor) == (
        True,
        "a pilot with two users",
        "admin@alpha.example",
    )
    history = page(alpha_admin.get(f"/admin/inference/model/{model.pk}/change/", HTTP_HOST=ALPHA))
    assert "a pilot with two users" in history
