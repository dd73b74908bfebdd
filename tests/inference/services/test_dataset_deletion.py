"""Deleting datasets and versions: what goes with them, what stops it, and every interface agreeing."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import TestCase

from core.exceptions import ApplicationError
from inference.models import Dataset, DatasetVersion, ModelVersion, TrainingJob
from inference.selectors.datasets import dataset_versions_compare
from inference.services import registry
from inference.services.datasets import (
    dataset_delete,
    dataset_deletion_plan,
    dataset_upload,
    dataset_version_delete,
)
from tenants.models import AuditEntry
from tenants.services import api_key_create

ROWS = [(f"nice thing {i}", "pos") for i in range(12)] + [(f"awful thing {i}", "neg") for i in range(12)]


def csv_bytes(rows) -> io.BytesIO:
    return io.BytesIO(("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows)).encode())


@pytest.fixture
def alpha(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    return tenant_a


def upload(name: str, rows=ROWS) -> DatasetVersion:
    return dataset_upload(name=name, file=csv_bytes(rows), filename=f"{name}.csv", task="classification")


def trained_on(version: DatasetVersion, model_name: str, number: int) -> ModelVersion:
    from inference.models import Model

    model, _ = Model.objects.get_or_create(name=model_name, defaults={"task": "classification"})
    job = TrainingJob.objects.create(
        dataset_version=version, model_name=model_name, base_model_id="minilm-l6", status="succeeded"
    )
    prefix = f"tenants/{connection.tenant.pk}/models/{model_name}/v{number}"
    default_storage.save(f"{prefix}/head.safetensors", io.BytesIO(b"weights"))
    return ModelVersion.objects.create(
        model=model, number=number, artifact_path=prefix, artifact_checksum=f"c{number}",
        artifact_manifest={"files": {"head.safetensors": "x"}}, metrics={}, headline_metric="accuracy",
        headline_value=0.9, dataset_version=version, dataset_hash="h", base_model_id="minilm-l6",
        method="head", training_job=job,
    )  # fmt: skip


def test_deleting_a_version_takes_the_models_trained_on_it_and_their_files(alpha):
    v1 = upload("reviews")
    v2 = upload("reviews", ROWS + [("fine thing", "pos")])
    mv = trained_on(v1, "sentiment", 1)
    plan = dataset_deletion_plan(dataset=v1.dataset, numbers=[1])
    assert plan.allowed and plan.versions == [1] and plan.examples == 24
    assert plan.model_versions == ["sentiment v1"] and plan.jobs == 1 and plan.files == 2
    source = v1.source_file
    assert default_storage.exists(source)
    with TestCase.captureOnCommitCallbacks(execute=True):
        dataset_version_delete(version=v1)
    assert list(v1.dataset.versions.values_list("number", flat=True)) == [2]
    assert not ModelVersion.objects.filter(pk=mv.pk).exists()
    assert not TrainingJob.objects.filter(dataset_version_id=v1.pk).exists()
    assert not default_storage.exists(source)
    assert not default_storage.exists(f"{mv.artifact_path}/head.safetensors")
    assert DatasetVersion.objects.get(pk=v2.pk).row_count == 25
    entry = AuditEntry.objects.filter(action="dataset.version_deleted").latest("pk")
    assert entry.details["versions"] == [1] and entry.details["model_versions"] == ["sentiment v1"]


def test_data_a_live_model_was_trained_on_cannot_be_deleted_and_says_which_model(alpha):
    v1 = upload("reviews")
    mv = trained_on(v1, "sentiment", 1)
    registry.model_version_promote(version=mv, override_reason="a test fixture without an evaluation")
    with pytest.raises(ApplicationError, match="'sentiment' v1 is its production version") as refused:
        dataset_delete(dataset=v1.dataset)
    assert refused.value.code == "dataset_in_use"
    assert (
        Dataset.objects.filter(pk=v1.dataset.pk).exists() and ModelVersion.objects.filter(pk=mv.pk).exists()
    )
    assert default_storage.exists(v1.source_file)


def test_data_a_queued_job_uses_cannot_be_deleted(alpha):
    v1 = upload("reviews")
    job = TrainingJob.objects.create(dataset_version=v1, model_name="m", base_model_id="minilm-l6")
    with pytest.raises(ApplicationError, match=f"Training job #{job.pk} \\(queued\\)"):
        dataset_version_delete(version=v1)


def test_a_member_cannot_delete_data(alpha, workspace_user):
    from tenants.actors import Actor

    v1 = upload("reviews")
    member = Actor(kind="user", name=workspace_user("member"), role="member")
    with pytest.raises(ApplicationError) as refused:
        dataset_delete(dataset=v1.dataset, actor=member)
    assert refused.value.code == "permission_denied"
    assert DatasetVersion.objects.filter(pk=v1.pk).exists()


def test_two_versions_compare_as_rows_added_removed_and_relabelled(alpha):
    v1 = upload("reviews")
    changed = [(t, "neg" if t == "nice thing 0" else label) for t, label in ROWS if t != "awful thing 3"]
    v2 = upload("reviews", changed + [("brand new text", "pos")])
    diff = dataset_versions_compare(a=v1, b=v2)
    assert (diff["added"], diff["removed"], diff["relabelled"], diff["unchanged"]) == (1, 1, 1, 22)
    assert diff["samples"]["relabelled"] == [{"text": "nice thing 0", "before": "pos", "after": "neg"}]
    assert diff["samples"]["removed"][0]["text"] == "awful thing 3"


def test_the_api_deletes_with_an_admin_key_and_refuses_other_keys(alpha, client):
    v1 = upload("reviews")
    _, data_key = api_key_create(tenant=alpha, name="d", scopes=["read", "data", "train"])
    _, admin_key = api_key_create(tenant=alpha, name="a", scopes=["admin"])
    refused = client.delete("/api/v1/datasets/reviews", HTTP_AUTHORIZATION=f"Bearer {data_key}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    mv = trained_on(v1, "sentiment", 1)
    registry.model_version_promote(version=mv, override_reason="a test fixture without an evaluation")
    in_use = client.delete("/api/v1/datasets/reviews/versions/1", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "dataset_in_use"
    assert in_use.json()["error"]["details"]["model_versions"] == ["sentiment v1"]
    registry.model_alias_remove(model=mv.model, alias="production")
    gone = client.delete("/api/v1/datasets/reviews", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert gone.status_code == 204 and not Dataset.objects.filter(name="reviews").exists()
    missing = client.delete("/api/v1/datasets/reviews", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert missing.status_code == 404


def test_the_dashboard_confirms_with_what_goes_then_deletes(alpha, signed_in):
    v1 = upload("reviews")
    trained_on(v1, "sentiment", 1)
    admin = signed_in("admin")
    page = admin.get("/datasets/reviews/delete/").content.decode()
    assert "sentiment v1" in page and "24 examples" in page
    done = admin.post("/datasets/reviews/delete/")
    assert done.status_code == 302 and done["Location"] == "/datasets/"
    assert not Dataset.objects.filter(name="reviews").exists()


def test_the_dashboard_shows_a_viewer_no_delete_and_refuses_their_post(alpha, signed_in):
    upload("reviews")
    viewer = signed_in("viewer")
    assert "Delete the whole dataset" not in viewer.get("/datasets/reviews/").content.decode()
    viewer.post("/datasets/reviews/delete/")
    assert Dataset.objects.filter(name="reviews").exists()


def test_the_tenant_admin_lists_what_goes_and_deletes_a_version(alpha, signed_in):
    v1 = upload("reviews")
    upload("reviews", ROWS + [("fine thing", "pos")])
    trained_on(v1, "sentiment", 1)
    client = signed_in("admin")
    url = f"/admin/inference/datasetversion/{v1.pk}/delete/"
    confirm = client.get(url).content.decode()
    assert "sentiment v1" in confirm
    client.post(url, {"post": "yes"})
    assert not DatasetVersion.objects.filter(pk=v1.pk).exists()
