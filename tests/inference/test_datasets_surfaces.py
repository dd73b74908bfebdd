"""The upload options and the size limit as each surface offers them: API, tenant admin, dashboard."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.db import connection
from django.http.multipartparser import MultiPartParser
from django.test import Client

from inference.models import Dataset, DatasetUpload, DatasetVersion
from inference.services.datasets import dataset_upload
from tests.factories import raw_key

ALPHA = "alpha.localhost"
CSV = b"text,label,fold\n" + b"".join(
    f"nice thing {i},pos,\nawful thing {i},neg,\n".encode() for i in range(20)
)
CONLL = b"Ada\tB-person\nLovelace\tI-person\n\nParis\tB-location\nis\tO\n\n" * 3


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def api(client, tenant_a, media):
    key = raw_key(tenant_a)

    def post(path: str, body: dict):
        return client.post(f"/api/v1/{path}", body, HTTP_AUTHORIZATION=f"Bearer {key}")

    return post


def logged_in(path: str) -> Client:
    client = Client(HTTP_HOST=ALPHA)
    response = client.post(path, {"username": "admin@alpha.example", "password": "pass-alpha-7391"})
    assert response.status_code == 302
    return client


@pytest.fixture
def admin_client(tenant_a, media) -> Client:
    return logged_in("/admin/login/?next=/admin/")


@pytest.fixture
def dashboard(tenant_a, media) -> Client:
    return logged_in("/accounts/login/")


@pytest.fixture
def multipart_reads(monkeypatch):
    """Bytes of uploaded files that reached Django's storing handlers, and whether a body was parsed."""
    seen = {"bytes": 0, "parsed": 0}
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        original = handler.receive_data_chunk

        def counting(self, raw_data, start, _original=original):
            seen["bytes"] += len(raw_data)
            return _original(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    parse = MultiPartParser.parse

    def parsing(self):
        seen["parsed"] += 1
        return parse(self)

    monkeypatch.setattr(MultiPartParser, "parse", parsing)
    return seen


def big_file(size: int) -> SimpleUploadedFile:
    line = b"some text,label\n"
    return SimpleUploadedFile("big.csv", b"text,label\n" + line * (size // len(line)))


def in_alpha(tenant_a):
    connection.set_tenant(tenant_a)


# ---- API ----------------------------------------------------------------------------------------


def test_the_api_upload_takes_every_option(api, tenant_a):
    response = api(
        "datasets/tickets/versions",
        {"file": SimpleUploadedFile("t.csv", CSV), "task": "classification", "split_column": "fold",
         "split_ratios": "50/25/25", "split_seed": "4", "labels": "pos\nneg"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["split_config"] == {"ratios": [0.5, 0.25, 0.25], "seed": 4}
    assert body["split_counts"] == {"train": 20, "validation": 10, "test": 10}
    in_alpha(tenant_a)
    assert Dataset.objects.get(name="tickets").label_set == ["pos", "neg"]

    whole = api(
        "datasets/tickets/versions",
        {"file": SimpleUploadedFile("t2.csv", CSV.replace(b"thing", b"item")), "split": "test"},
    )
    assert whole.status_code == 201, whole.content
    assert whole.json()["split_counts"]["test"] == 50 and whole.json()["split_config"]["given"] == ["test"]


def test_api_split_ratios_may_be_three_repeated_values_and_bad_ones_name_the_field(api):
    ok = api("datasets/r/versions", {"file": SimpleUploadedFile("t.csv", CSV), "task": "classification",
                                     "split_ratios": ["0.6", "0.2", "0.2"]})  # fmt: skip
    assert ok.status_code == 201 and ok.json()["split_config"]["ratios"] == [0.6, 0.2, 0.2]
    bad = api("datasets/r/versions", {"file": SimpleUploadedFile("t.csv", CSV), "split_ratios": "80/20"})
    assert bad.status_code == 400
    assert "80/10/10" in bad.json()["error"]["details"]["split_ratios"][0]


def test_the_openapi_schema_documents_the_upload_options(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    properties = schema["components"]["schemas"]["DatasetVersionUploadInputRequest"]["properties"]
    for name in ("file", "task", "text_column", "label_column", "format", "split_column", "split",
                 "split_ratios", "split_seed", "repair_bio", "labels"):  # fmt: skip
        assert properties[name].get("description"), name
    assert "80/10/10" in properties["split_ratios"]["description"]
    assert "413" in schema["paths"]["/api/v1/datasets/{name}/versions"]["post"]["responses"]


def test_an_oversize_api_upload_is_refused_413_before_its_body_is_read(
    api, settings, multipart_reads, tenant_a
):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 1000
    response = api("datasets/big/versions", {"file": big_file(1_200_000), "task": "classification"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and error["details"] == {"max_bytes": 1000}
    assert "1,000 bytes" in error["message"]
    assert multipart_reads["parsed"] == 0  # refused on Content-Length: the body was never parsed


def test_an_api_upload_whose_file_passes_the_limit_is_cut_off_while_it_streams(
    api, settings, multipart_reads
):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 100_000
    response = api("datasets/big/versions", {"file": big_file(400_000), "task": "classification"})
    assert response.status_code == 413 and response.json()["error"]["details"] == {"max_bytes": 100_000}
    assert multipart_reads["parsed"] == 1 and multipart_reads["bytes"] <= 100_000  # never stored whole


# ---- tenant admin -------------------------------------------------------------------------------


def test_the_admin_upload_form_offers_and_passes_every_option(admin_client, tenant_a):
    page = admin_client.get("/admin/inference/dataset/upload/").content.decode()
    for name in ("split_column", "split", "split_ratios", "split_seed", "repair_bio", "labels"):
        assert f'name="{name}"' in page, name
    response = admin_client.post(
        "/admin/inference/dataset/upload/",
        {"name": "adm", "task": "classification", "file": SimpleUploadedFile("a.csv", CSV), "text_column": "text",
         "format": "auto", "split_column": "fold", "split_ratios": "60/20/20", "split_seed": "9"},
    )  # fmt: skip
    assert response.status_code == 302
    in_alpha(tenant_a)
    version = DatasetVersion.objects.get(dataset__name="adm")
    assert version.split_config == {"ratios": [0.6, 0.2, 0.2], "seed": 9}


def test_an_oversize_admin_upload_is_refused_with_the_limit_named(admin_client, settings, multipart_reads):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 1000
    response = admin_client.post(
        "/admin/inference/dataset/upload/",
        {"name": "big", "task": "classification", "file": big_file(1_200_000)},
    )
    assert response.status_code == 413
    assert "the largest file you can upload is 1,000 bytes" in response.content.decode()
    assert multipart_reads["parsed"] == 0


def test_an_admin_upload_cut_off_while_streaming_shows_the_limit(admin_client, settings, multipart_reads):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 100_000
    response = admin_client.post(
        "/admin/inference/dataset/upload/",
        {"name": "big", "task": "classification", "file": big_file(400_000)},
    )
    assert response.status_code == 413 and "97.7 KB" in response.content.decode()
    assert multipart_reads["bytes"] <= 100_000


@pytest.mark.parametrize(
    ("login", "upload"),
    [("/admin/login/", "/admin/inference/dataset/upload/"), ("/accounts/login/", "/datasets/upload/")],
)
def test_the_upload_pages_still_check_csrf(tenant_a, media, login, upload):
    client = Client(HTTP_HOST=ALPHA, enforce_csrf_checks=True)
    token = client.get(login).cookies["csrftoken"].value
    logged = client.post(
        login,
        {"username": "admin@alpha.example", "password": "pass-alpha-7391", "csrfmiddlewaretoken": token},
    )
    assert logged.status_code == 302
    body = {"name": "nocsrf", "task": "classification", "text_column": "text", "format": "auto"}

    refused = client.post(upload, {**body, "file": SimpleUploadedFile("a.csv", CSV)})
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        upload, {**body, "file": SimpleUploadedFile("a.csv", CSV), "csrfmiddlewaretoken": token}
    )

    assert refused.status_code == 403 and accepted.status_code == 302
    in_alpha(tenant_a)
    assert DatasetUpload.objects.filter(dataset_name="nocsrf").count() == 1


# ---- dashboard ----------------------------------------------------------------------------------


def test_a_new_version_from_the_dashboard_takes_the_datasets_task_not_the_forms_default(dashboard, tenant_a):
    in_alpha(tenant_a)
    dataset_upload(name="people", file=CONLL, filename="p.conll", task="extraction")
    connection.set_schema_to_public()

    page = dashboard.get("/datasets/upload/?dataset=people").content.decode()
    assert '<option value="extraction" selected>' in page

    response = dashboard.post(
        "/datasets/upload/",
        {"file": SimpleUploadedFile("more.conll", CONLL.replace(b"Ada", b"Grace")), "name": "people",
         "task": "classification", "text_column": "text", "format": "auto"},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/datasets/people/v2/"


def test_the_dashboard_form_passes_the_split_options(dashboard, tenant_a):
    response = dashboard.post(
        "/datasets/upload/",
        {"file": SimpleUploadedFile("t.csv", CSV), "name": "dash", "task": "classification", "text_column": "text",
         "format": "auto", "split_column": "fold", "split_ratios": "0.5 0.25 0.25", "split_seed": "2"},
    )  # fmt: skip
    assert response.status_code == 302
    in_alpha(tenant_a)
    assert DatasetVersion.objects.get(dataset__name="dash").split_config == {
        "ratios": [0.5, 0.25, 0.25],
        "seed": 2,
    }


def test_dashboard_split_ratios_that_do_not_add_up_are_a_field_error(dashboard):
    response = dashboard.post(
        "/datasets/upload/",
        {"file": SimpleUploadedFile("t.csv", CSV), "name": "dash", "task": "classification", "text_column": "text",
         "format": "auto", "split_ratios": "80/30/10"},
    )  # fmt: skip
    assert response.status_code == 200 and "add up to 1" in response.content.decode()


def test_an_oversize_dashboard_upload_is_refused_with_the_limit_named(dashboard, settings, multipart_reads):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 1000
    response = dashboard.post(
        "/datasets/upload/", {"file": big_file(1_200_000), "name": "big", "task": "classification"}
    )
    assert response.status_code == 413
    assert "the largest file you can upload is 1,000 bytes" in response.content.decode()
    assert multipart_reads["parsed"] == 0
