"""The tenant admin's dataset pages: upload through the service, read-only versions, rows and attempts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from inference.models import DatasetUpload, DatasetVersion
from inference.services.datasets import dataset_upload
from tests.support import shared_dataset

ALPHA = "alpha.localhost"
CSV = b"text,label\n" + b"".join(f"=nice thing {i},pos\nawful thing {i},neg\n".encode() for i in range(10))


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def alpha_admin(client, tenant_a, media):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@alpha.example", "password": "pass-alpha-7391"},
        HTTP_HOST=ALPHA,
    )
    assert response.status_code == 302
    return client


def in_tenant(tenant):
    connection.set_tenant(tenant)


def test_banking77_uploaded_in_the_admin_imports_and_the_version_page_shows_statistics(alpha_admin, tenant_a):
    path = shared_dataset("banking77/train.csv")
    assert alpha_admin.get("/admin/inference/dataset/add/", HTTP_HOST=ALPHA)["Location"].endswith(
        "/admin/inference/dataset/upload/"
    )
    form = alpha_admin.get("/admin/inference/dataset/upload/", HTTP_HOST=ALPHA)
    assert form.status_code == 200 and b"Label column" in form.content

    with path.open("rb") as handle:
        response = alpha_admin.post(
            "/admin/inference/dataset/upload/",
            {"name": "banking77", "task": "classification", "file": handle, "text_column": "text",
             "label_column": "category", "format": "auto"},
            HTTP_HOST=ALPHA,
            follow=True,
        )  # fmt: skip

    assert response.status_code == 200
    in_tenant(tenant_a)
    version = DatasetVersion.objects.get(dataset__name="banking77")
    assert version.row_count == 9_999 and version.created_by == "admin@alpha.example"
    page = response.content.decode()
    assert "Version 1 of &#x27;banking77&#x27;: 9,999 rows" in page  # the success message
    assert response.redirect_chain[-1][0].endswith(f"/admin/inference/datasetversion/{version.pk}/change/")
    for statistic in [
        "card_arrival",
        "Rows per label",
        "validation",
        f"{version.split_counts['train']:,}",
        version.content_hash,
    ]:
        assert statistic in page
    assert "Download:" in page and f"/admin/inference/datasetversion/{version.pk}/export/csv/" in page

    dataset_page = alpha_admin.get(f"/admin/inference/dataset/{version.dataset_id}/change/", HTTP_HOST=ALPHA)
    assert dataset_page.status_code == 200
    assert b"Upload a new version" in dataset_page.content and b"9,999" in dataset_page.content


def test_a_refused_upload_shows_each_problem_with_its_line(alpha_admin, tenant_a):
    bad = CSV + b"  ,pos\n" * 60
    response = alpha_admin.post(
        "/admin/inference/dataset/upload/",
        {"name": "broken", "task": "classification", "file": SimpleUploadedFile("broken.csv", bad),
         "text_column": "text", "format": "auto"},
        HTTP_HOST=ALPHA,
    )  # fmt: skip

    assert response.status_code == 200
    page = response.content.decode()
    assert "The file was not imported" in page
    assert "Line 22: the text is empty. Add the text or delete the row." in page
    assert "10 more problems not shown; 60 in all." in page
    in_tenant(tenant_a)
    assert not DatasetVersion.objects.exists()
    attempt = DatasetUpload.objects.get(dataset_name="broken")
    assert attempt.status == "failed"

    log = alpha_admin.get(f"/admin/inference/datasetupload/{attempt.pk}/change/", HTTP_HOST=ALPHA)
    assert "Line 22: the text is empty." in log.content.decode()


def test_a_missing_label_column_is_explained_on_the_form(alpha_admin):
    response = alpha_admin.post(
        "/admin/inference/dataset/upload/",
        {"name": "bank", "task": "classification", "format": "auto", "text_column": "text",
         "file": SimpleUploadedFile("b.csv", b"text,category\nhi,greeting\n")},
        HTTP_HOST=ALPHA,
    )  # fmt: skip
    assert "The columns in this file are: &#x27;text&#x27;, &#x27;category&#x27;" in response.content.decode()


def test_a_new_version_is_uploaded_from_the_dataset_page(alpha_admin, tenant_a):
    in_tenant(tenant_a)
    v1 = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    connection.set_schema_to_public()

    response = alpha_admin.post(
        f"/admin/inference/dataset/{v1.dataset_id}/upload/",
        {"file": SimpleUploadedFile("r2.csv", CSV + b"extra,pos\n"), "text_column": "text", "format": "csv"},
        HTTP_HOST=ALPHA,
    )

    assert response.status_code == 302
    in_tenant(tenant_a)
    assert v1.dataset.versions.count() == 2


def test_exports_download_through_the_admin_with_formulas_neutralised(alpha_admin, tenant_a):
    in_tenant(tenant_a)
    version = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    connection.set_schema_to_public()

    csv_response = alpha_admin.get(
        f"/admin/inference/datasetversion/{version.pk}/export/csv/", HTTP_HOST=ALPHA
    )
    assert csv_response["Content-Disposition"] == 'attachment; filename="reviews-v1.csv"'
    assert b"'=nice thing 0,pos," in csv_response.content
    jsonl = alpha_admin.get(f"/admin/inference/datasetversion/{version.pk}/export/jsonl/", HTTP_HOST=ALPHA)
    assert jsonl.status_code == 200 and jsonl.content.count(b"\n") == 20


def test_rows_are_listed_read_only_with_search_and_filters(alpha_admin, tenant_a):
    in_tenant(tenant_a)
    version = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    connection.set_schema_to_public()

    page = alpha_admin.get(
        f"/admin/inference/example/?version__id__exact={version.pk}&label=neg&q=thing+3", HTTP_HOST=ALPHA
    )
    assert page.status_code == 200
    content = page.content.decode()
    assert "awful thing 3" in content and "nice thing 3" not in content
    assert alpha_admin.get("/admin/inference/example/add/", HTTP_HOST=ALPHA).status_code == 403
    assert alpha_admin.get("/admin/inference/datasetversion/add/", HTTP_HOST=ALPHA).status_code == 403


def test_another_tenants_admin_gets_404_for_alphas_dataset(client, tenant_a, tenant_b, media):
    in_tenant(tenant_a)
    version = dataset_upload(name="secret", file=CSV, filename="s.csv", task="classification")
    connection.set_schema_to_public()
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@beta.example", "password": "pass-beta-7391"},
        HTTP_HOST="beta.localhost",
    )
    for url in [
        f"/admin/inference/dataset/{version.dataset_id}/change/",
        f"/admin/inference/dataset/{version.dataset_id}/upload/",
        f"/admin/inference/datasetversion/{version.pk}/change/",
        f"/admin/inference/datasetversion/{version.pk}/export/jsonl/",
    ]:
        assert client.get(url, HTTP_HOST="beta.localhost").status_code == 404, url
    listing = client.get("/admin/inference/dataset/", HTTP_HOST="beta.localhost")
    assert listing.status_code == 200 and b"secret" not in listing.content
