"""A new version says what changed since the one before, and an upload can be previewed unsaved."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from inference.models import DatasetUpload, DatasetVersion
from inference.services.datasets import dataset_upload, dataset_upload_preview
from tenants.services import api_key_create

ROWS = [(f"nice thing {i}", "pos") for i in range(15)] + [(f"awful thing {i}", "neg") for i in range(15)]


def csv_bytes(rows) -> bytes:
    return ("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows)).encode()


@pytest.fixture
def corrected(tenant_a, settings, tmp_path):
    """v1 as first uploaded, v2 with four corrections and one row dropped."""
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    dataset_upload(name="reviews", file=io.BytesIO(csv_bytes(ROWS)), filename="v1.csv", task="classification")
    fixed = [(t, "neg" if t in {f"nice thing {i}" for i in range(4)} else label) for t, label in ROWS[1:]]
    return dataset_upload(name="reviews", file=io.BytesIO(csv_bytes(fixed)), filename="v2.csv")


def test_a_new_version_records_what_changed_and_warns_of_relabelled_rows(corrected):
    changes = corrected.report["changes"]
    assert (changes["from_version"], changes["added"], changes["removed"], changes["relabelled"]) == (
        1,
        0,
        1,
        3,
    )
    assert changes["samples"]["removed"] == [{"text": "nice thing 0", "before": "pos"}]
    assert any(
        "Compared with v1: 1 row(s) removed and 3 relabelled" in w for w in corrected.report["warnings"]
    )


def test_re_uploading_the_original_file_is_previewed_with_the_corrections_it_would_drop(corrected):
    uploads_before = DatasetUpload.objects.count()
    preview = dataset_upload_preview(
        name="reviews", file=io.BytesIO(csv_bytes(ROWS)), filename="v1-again.csv"
    )
    assert preview["version"] == 3 and preview["rows"] == 30
    changes = preview["changes"]
    assert (changes["from_version"], changes["added"], changes["removed"], changes["relabelled"]) == (
        2,
        1,
        0,
        3,
    )
    assert {"text": "nice thing 1", "before": "neg", "after": "pos"} in changes["samples"]["relabelled"]
    assert DatasetVersion.objects.filter(dataset__name="reviews").count() == 2
    assert DatasetUpload.objects.count() == uploads_before  # a preview is not an attempt


def test_the_api_dry_run_answers_the_preview_and_saves_nothing(corrected, client, tenant_a):
    _, key = api_key_create(tenant=tenant_a, name="k", scopes=["data", "read"])
    answer = client.post(
        "/api/v1/datasets/reviews/versions",
        {"file": SimpleUploadedFile("v1.csv", csv_bytes(ROWS)), "dry_run": "true"},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["changes"]["relabelled"] == 3 and answer.json()["version"] == 3
    assert DatasetVersion.objects.filter(dataset__name="reviews").count() == 2


def test_the_dashboard_previews_the_changes_of_a_file(corrected, signed_in):
    member = signed_in("member")
    page = member.post(
        "/datasets/upload/preview/",
        {"file": SimpleUploadedFile("v1.csv", csv_bytes(ROWS)), "name": "reviews", "task": "classification",
         "text_column": "text", "label_column": "label", "format": "auto"},
    )  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200 and "reviews v3" in html
    assert "<strong>3</strong> relabelled" in html and "drops the corrections" in html
    assert DatasetVersion.objects.filter(dataset__name="reviews").count() == 2
    version_page = member.get("/datasets/reviews/v2/").content.decode()
    assert "1 removed, 3 relabelled" in version_page
