"""Batch predictions: refusals before anything is stored, answers in file order, cancel, usage, files."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase

from core.exceptions import ApplicationError
from inference.models import BatchPrediction, Dataset, DatasetVersion, Model, ModelVersion
from inference.services import batch as batch_service
from inference.services.batch import (
    batch_prediction_cancel,
    batch_prediction_claim,
    batch_prediction_delete,
    batch_prediction_run,
    batch_prediction_start,
    batch_results_csv,
)
from tenants.models import UsageDay
from tenants.services import api_key_create


class LengthModel:
    """Answers like a classifier: the label says whether the text is long; counts its calls."""

    def __init__(self):
        self.calls: list[int] = []

    def predict(self, texts, top_k=None):
        self.calls.append(len(texts))
        return [{"label": "long" if len(t) > 10 else "short", "score": 0.9} for t in texts]


@pytest.fixture
def model(tenant_a, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(batch_service, "CHUNK_TEXTS", 4)
    connection.set_tenant(tenant_a)
    fake = LengthModel()

    class Cache:
        def get(self, *, schema, version):
            return fake

    monkeypatch.setattr(batch_service, "runtime_cache", lambda: Cache())
    model = Model.objects.create(name="router", task="classification")
    dataset = Dataset.objects.create(name="d", task="classification")
    dv = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="h")
    ModelVersion.objects.create(
        model=model, number=1, artifact_path="x", artifact_checksum="c", metrics={}, headline_metric="accuracy",
        headline_value=0.9, dataset_version=dv, dataset_hash="h", base_model_id="minilm-l6", method="head",
    )  # fmt: skip
    model.fake = fake
    return model


def csv_file(text: str, name="texts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def run(batch: BatchPrediction) -> BatchPrediction:
    assert batch_prediction_claim(batch.pk)
    with TestCase.captureOnCommitCallbacks(execute=False):
        batch_prediction_run(batch.pk)
    batch.refresh_from_db()
    return batch


def lines(batch: BatchPrediction) -> list[dict]:
    with default_storage.open(batch.output_file, "rb") as fh:
        return [json.loads(line) for line in fh]


def test_every_row_is_answered_in_file_order_in_chunks_with_rows_lacking_text_flagged(model):
    rows = ["hi", "a rather long text", "", "ok", "another long sentence", "yo", "x" * 20_000]
    body = "id,message\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(rows))
    with TestCase.captureOnCommitCallbacks(execute=False):
        batch = batch_prediction_start(model_name="router", file=csv_file(body), filename="t.csv",
                                       text_column="message")  # fmt: skip
    assert batch.status == "queued" and batch.version.number == 1
    batch = run(batch)
    assert batch.status == "succeeded" and (batch.rows_total, batch.rows_done, batch.rows_failed) == (7, 7, 2)
    out = lines(batch)
    assert [line["row"] for line in out] == list(range(7))
    assert [line.get("label") for line in out] == ["short", "long", None, "short", "long", "short", None]
    assert out[2]["error"] == "no text in 'message'" and "limit is 10000" in out[6]["error"]
    assert max(model.fake.calls) <= 4  # never more texts at once than predict takes
    csv_rows = "".join(batch_results_csv(batch)).splitlines()
    assert csv_rows[0] == "row,text,label,score,labels,entities,error" and csv_rows[2].startswith(
        "1,a rather long text,long,0.9"
    )


def test_json_lines_are_read_by_field(model):
    body = '{"body": "short"}\n\n{"body": "a long one indeed"}\n[1, 2]\n'
    with TestCase.captureOnCommitCallbacks(execute=False):
        batch = batch_prediction_start(model_name="router", file=csv_file(body, "t.jsonl"), filename="t.jsonl",
                                       text_column="body")  # fmt: skip
    out = lines(run(batch))
    assert [line.get("label") for line in out] == ["short", "long", None]
    assert out[2]["error"] == "not a JSON object"


@pytest.mark.parametrize(
    ("body", "filename", "kwargs", "field", "message"),
    [
        ("id,message\n1,hi\n", "t.csv", {}, "text_column", "has no column 'text' (its columns: id, message)"),
        ("text\nhi\n", "t.xlsx", {}, "format", "Cannot tell the format of 't.xlsx'"),
        ('{"x": 1}\n', "t.jsonl", {}, "text_column", 'has no "text" field'),
        ("", "t.csv", {}, "file", "The file is empty."),
        ("text\nhi\n", "t.csv", {"top_k": 0}, "top_k", "top_k must be between 1 and"),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_stored(
    model, tmp_path, body, filename, kwargs, field, message
):
    with pytest.raises(ApplicationError, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        batch_prediction_start(
            model_name="router", file=csv_file(body, filename), filename=filename, **kwargs
        )
    assert refused.value.field == field
    assert not BatchPrediction.objects.exists() and not (tmp_path / "tenants").exists()


def test_a_file_that_is_not_utf8_is_refused(model):
    with pytest.raises(ApplicationError, match="not UTF-8"):
        batch_prediction_start(model_name="router", file=csv_file("x").__class__("t.csv", "text\ncafé\n".encode("latin-1")),
                               filename="t.csv")  # fmt: skip


def test_an_unknown_model_or_version_is_refused(model):
    with pytest.raises(ApplicationError, match="no model named 'nope'"):
        batch_prediction_start(model_name="nope", file=csv_file("text\nhi\n"), filename="t.csv")
    with pytest.raises(ApplicationError, match="no version or alias '7'"):
        batch_prediction_start(model_name="router", file=csv_file("text\nhi\n"), filename="t.csv", version=7)


def test_a_cancelled_batch_stops_and_a_deleted_one_leaves_no_file(model, monkeypatch):
    monkeypatch.setattr(batch_service, "PROGRESS_EVERY", 1)
    body = "text\n" + "".join(f"text number {i}\n" for i in range(40))
    with TestCase.captureOnCommitCallbacks(execute=False):
        batch = batch_prediction_start(model_name="router", file=csv_file(body), filename="t.csv")
    original = model.fake.predict

    def cancel_after_first(texts, top_k=None):
        BatchPrediction.objects.filter(pk=batch.pk).update(cancel_requested=True)
        return original(texts, top_k)

    model.fake.predict = cancel_after_first
    batch = run(batch)
    assert batch.status == "cancelled" and batch.rows_done == 4 and not batch.output_file
    with pytest.raises(ApplicationError, match="already cancelled"):
        batch_prediction_cancel(batch=batch)
    source = batch.input_file
    with TestCase.captureOnCommitCallbacks(execute=True):
        batch_prediction_delete(batch=batch)
    assert not default_storage.exists(source) and not BatchPrediction.objects.exists()


def test_the_api_queues_a_file_reports_progress_and_serves_the_answers(model, client, tenant_a):
    _, key = api_key_create(tenant=tenant_a, name="k", scopes=["predict", "read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    missing = client.post("/api/v1/models/router/batch-predictions", {"file": csv_file("id\n1\n")}, **auth)
    assert missing.status_code == 400 and missing.json()["error"]["details"]["columns"] == ["id"]
    with TestCase.captureOnCommitCallbacks(execute=False):
        made = client.post("/api/v1/models/router/batch-predictions",
                           {"file": csv_file("text\nhello\na long enough text\n")}, **auth)  # fmt: skip
    assert made.status_code == 202, made.content
    batch_id = made.json()["id"]
    early = client.get(f"/api/v1/models/router/batch-predictions/{batch_id}/results", **auth)
    assert early.status_code == 409 and early.json()["error"]["code"] == "batch_not_finished"
    run(BatchPrediction.objects.get(pk=batch_id))
    status = client.get(f"/api/v1/models/router/batch-predictions/{batch_id}", **auth).json()
    assert status["status"] == "succeeded" and status["progress"] == 1.0 and status["rows_done"] == 2
    results = client.get(status["results_url"], **auth)
    answers = [json.loads(line) for line in b"".join(results.streaming_content).splitlines()]
    assert [a["label"] for a in answers] == ["short", "long"]
    assert UsageDay.objects.filter(tenant=tenant_a, texts=2).exists()
    listed = client.get("/api/v1/models/router/batch-predictions", **auth).json()
    assert [b["id"] for b in listed["results"]] == [batch_id]
    assert client.get("/api/v1/models/nope/batch-predictions", **auth).status_code == 404
    assert client.delete(f"/api/v1/models/router/batch-predictions/{batch_id}", **auth).status_code == 204


def test_the_dashboard_runs_a_batch_and_offers_its_download(model, signed_in):
    member = signed_in("member")
    with TestCase.captureOnCommitCallbacks(execute=False):
        sent = member.post(
            "/models/router/batch/", {"file": csv_file("text\nhello\n"), "text_column": "text"}
        )
    assert sent.status_code == 302
    batch = run(BatchPrediction.objects.get())
    page = member.get("/models/router/batch/").content.decode()
    assert "succeeded" in page and f"/models/router/batch/{batch.pk}/results.csv" in page
    download = member.get(f"/models/router/batch/{batch.pk}/results.csv")
    assert b"".join(download.streaming_content).decode().splitlines()[1] == "0,hello,short,0.9,,,"
    refused = member.post("/models/router/batch/", {"file": csv_file("id\n1\n"), "text_column": "text"})
    assert refused.status_code == 400 and "its columns: id" in refused.content.decode()


def test_a_broker_outage_when_the_batch_is_sent_still_answers_and_keeps_the_batch(
    model, client, tenant_a, monkeypatch
):
    import redis
    from celery import current_app

    def broker_down(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    _, key = api_key_create(tenant=tenant_a, name="k", scopes=["predict", "read"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = client.post("/api/v1/models/router/batch-predictions", {"file": csv_file("text\nhello\n")},
                           HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert made.status_code == 202, made.content
    assert BatchPrediction.objects.get().status == "queued"
