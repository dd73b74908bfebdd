"""Importing a tenant's files as dataset versions: the real public datasets, storage and atomicity."""

from __future__ import annotations

import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from inference.models import Dataset, DatasetUpload, DatasetVersion, Example
from inference.selectors.datasets import (
    dataset_get,
    dataset_list,
    dataset_upload_list,
    dataset_version_examples,
    dataset_version_get,
    dataset_version_to_examples,
)
from inference.services.datasets import DatasetUploadError, dataset_create, dataset_upload
from tests.support import shared_dataset

CSV = b"text,label\n" + b"".join(f"nice thing {i},pos\nawful thing {i},neg\n".encode() for i in range(10))


@pytest.fixture
def alpha(tenant_a, settings, tmp_path):
    """Act inside tenant alpha's schema with files stored under a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    return tenant_a


def test_banking77_train_imports_whole_with_stratified_splits(alpha):
    path = shared_dataset("banking77/train.csv")
    started = time.perf_counter()
    with path.open("rb") as handle:
        version = dataset_upload(
            name="banking77",
            file=handle,
            filename="train.csv",
            task="classification",
            label_column="category",
        )
    elapsed = time.perf_counter() - started
    print(f"\nbanking77 train (10,003 rows) imported in {elapsed:.2f}s")

    # Four rows repeat an earlier one once the line breaks around their text are trimmed.
    assert version.report["rows_received"] == 10_003
    dropped = [f for f in version.report["findings"] if f["code"] == "duplicates_dropped"]
    assert dropped[0]["count"] == 4
    assert version.number == 1 and version.row_count == 9_999
    assert Example.objects.filter(version=version).count() == 9_999
    assert len(version.labels) == 77
    # The seeded split is deterministic: these are the numbers every run must produce.
    assert version.split_counts == {"train": 7_999, "validation": 1_000, "test": 1_000}
    for split, rows, rarest, commonest in [
        ("train", 7_999, 27, 149),
        ("validation", 1_000, 4, 19),
        ("test", 1_000, 4, 19),
    ]:
        counts = version.label_counts[split]
        assert set(counts) == set(version.labels) and sum(counts.values()) == rows
        assert (counts["contactless_not_working"], counts["card_payment_fee_charged"]) == (rarest, commonest)
        assert (min(counts.values()), max(counts.values())) == (rarest, commonest)
    assert version.split_config == {"ratios": [0.8, 0.1, 0.1], "seed": 13}
    assert version.trainable and version.format == "csv" and len(version.content_hash) == 64
    assert version.report["errors"] == [] and "9,999 rows" in version.report["summary"]


def test_wnut17_conll_imports_every_sentence_with_its_entity_types(alpha):
    path = shared_dataset("wnut17/wnut17train.conll")
    version = dataset_upload(
        name="wnut17", file=path.read_bytes(), filename="wnut17train.conll", task="extraction"
    )

    assert version.report["rows_received"] == 3_394 and version.format == "conll"
    dropped = [f["count"] for f in version.report["findings"] if f["code"] == "duplicates_dropped"]
    assert dropped == [91] and version.row_count == 3_303  # repeated tweets are kept once
    assert version.report["errors"] == [] and version.report["warnings"] == []
    assert version.labels == ["corporation", "creative-work", "group", "location", "person", "product"]
    # The seeded split is deterministic: these are the numbers every run must produce.
    assert version.split_counts == {"train": 2_643, "validation": 330, "test": 330}
    assert version.label_counts == {
        "train": {"corporation": 150, "creative-work": 98, "group": 151, "location": 318, "person": 393, "product": 91},
        "validation": {"corporation": 17, "creative-work": 12, "group": 21, "location": 39, "person": 50, "product": 11},
        "test": {"corporation": 18, "creative-work": 10, "group": 20, "location": 38, "person": 48, "product": 11},
    }  # fmt: skip
    first = dataset_version_to_examples(version)[0]
    assert first.tokens and first.text == " ".join(first.tokens)
    with_entity = Example.objects.filter(version=version, entities__contains=[{"label": "location"}]).first()
    span = with_entity.entities[0]
    assert with_entity.text[span["start"] : span["end"]]


def test_upload_stores_the_original_file_under_the_tenants_prefix(alpha):
    upload = SimpleUploadedFile("my reviews (1).csv", CSV, content_type="text/csv")
    version = dataset_upload(name="reviews", file=upload, task="classification")

    assert version.source_file.startswith(f"tenants/{alpha.pk}/datasets/reviews/v1/")
    assert version.source_filename == "my reviews (1).csv"
    with default_storage.open(version.source_file, "rb") as stored:
        assert stored.read() == CSV


def test_a_second_upload_becomes_version_2_and_keeps_version_1(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="a.csv", task="classification")
    v2 = dataset_upload(name="reviews", file=CSV + b"great thing,pos\n", filename="b.csv")

    assert (v1.number, v2.number) == (1, 2) and v2.parent == v1
    assert v2.row_count == v1.row_count + 1
    assert Example.objects.filter(version=v1).count() == 20
    assert [u.status for u in dataset_upload_list(dataset=v1.dataset)] == ["succeeded", "succeeded"]


def test_the_same_file_gives_the_same_split_and_content_hash(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="a.csv", task="classification")
    v2 = dataset_upload(name="reviews", file=CSV, filename="a.csv")
    assert v1.content_hash == v2.content_hash
    v3 = dataset_upload(name="reviews", file=CSV, filename="a.csv", seed=99)
    assert v3.content_hash != v1.content_hash  # another seed, another split


def test_rows_carrying_a_split_keep_it(alpha):
    data = b"text,label,split\n" + b"".join(
        f"good {i},pos,test\nbad {i},neg,train\n".encode() for i in range(6)
    )
    version = dataset_upload(name="given", file=data, filename="g.csv", task="classification")
    assert version.label_counts["test"] == {"pos": 6}
    assert all(ex.split == "train" for ex in dataset_version_examples(version=version, label="neg"))


def test_exact_duplicates_are_dropped_and_reported(alpha):
    version = dataset_upload(
        name="dupes", file=CSV + b"nice thing 0,pos\n", filename="d.csv", task="classification"
    )
    assert version.row_count == 20
    dropped = [f for f in version.report["findings"] if f["code"] == "duplicates_dropped"]
    assert dropped and dropped[0]["count"] == 1


def test_a_version_with_a_blocking_finding_is_stored_but_not_trainable(alpha):
    data = b"text,label\n" + b"".join(f"text {i},common\n".encode() for i in range(10)) + b"odd one,rare\n"
    version = dataset_upload(name="lopsided", file=data, filename="l.csv", task="classification")
    assert not version.trainable
    codes = {f["code"] for f in version.report["findings"] if f["severity"] == "error"}
    assert "too_few_examples" in codes
    assert "cannot be trained on" in version.report["summary"]


def test_a_new_dataset_needs_a_task(alpha):
    with pytest.raises(DatasetUploadError, match="say which task") as caught:
        dataset_upload(name="fresh", file=CSV, filename="f.csv")
    assert caught.value.code == "task_required"
    assert not Dataset.objects.filter(name="fresh").exists()
    assert DatasetUpload.objects.get(dataset_name="fresh").status == "failed"


def test_a_mid_file_error_imports_nothing_and_leaves_earlier_versions_alone(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="a.csv", task="classification")
    broken = CSV + b"   ,pos\n" + CSV.split(b"\n", 1)[1]

    with pytest.raises(DatasetUploadError) as caught:
        dataset_upload(name="reviews", file=broken, filename="broken.csv")

    assert caught.value.report["errors"][0] == {
        "line": 22,
        "code": "empty_text",
        "message": "Line 22: the text is empty. Add the text or delete the row.",
    }
    assert list(DatasetVersion.objects.filter(dataset=v1.dataset)) == [v1]
    assert Example.objects.count() == 20
    failed = dataset_upload_list(dataset=v1.dataset, status="failed").get()
    assert failed.filename == "broken.csv" and failed.report["errors"][0]["code"] == "empty_text"
    assert failed.version is None


def test_a_database_failure_during_the_bulk_insert_rolls_everything_back(alpha, monkeypatch, tmp_path):
    from django.db.models.query import QuerySet

    calls = []
    original = QuerySet.bulk_create

    def failing_bulk_create(self, objs, *args, **kwargs):
        if self.model is Example:
            objs = list(objs)
            calls.append(len(objs))
            original(self, objs[:2000], *args, **kwargs)  # some rows reach the table first
            raise RuntimeError("disk full")
        return original(self, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", failing_bulk_create)
    path = shared_dataset("banking77/train.csv")
    with pytest.raises(RuntimeError, match="disk full"):
        dataset_upload(
            name="banking77", file=path.read_bytes(), task="classification", label_column="category"
        )

    assert calls
    assert not Dataset.objects.filter(name="banking77").exists()
    assert Example.objects.count() == 0 and DatasetVersion.objects.count() == 0
    failed = DatasetUpload.objects.get(dataset_name="banking77")
    assert failed.status == "failed" and "internal error" in failed.report["summary"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # the stored copy was removed again


def test_a_dataset_in_one_tenant_is_invisible_from_another(alpha, tenant_b):
    dataset_upload(name="secret", file=CSV, filename="s.csv", task="classification")
    assert dataset_get(name="secret") is not None

    connection.set_tenant(tenant_b)
    assert dataset_get(name="secret") is None
    assert not dataset_list().filter(name="secret").exists()
    assert not dataset_upload_list(dataset_name="secret").exists()
    # The same name is free in the other tenant.
    other = dataset_create(name="secret", task="multilabel")
    assert dataset_version_get(dataset=other) is None
