"""Versions after the upload: appending rows, exporting, and reading rows back for training."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection

from inference.engine.types import Example as EngineExample
from inference.engine.types import Span
from inference.models import Example
from inference.selectors.datasets import dataset_version_examples, dataset_version_to_examples
from inference.services.datasets import (
    DatasetError,
    DatasetUploadError,
    dataset_create,
    dataset_upload,
    dataset_version_append,
    dataset_version_export,
)
from tests.support import shared_dataset

CSV = b"text,label\n" + b"".join(f"nice thing {i},pos\nawful thing {i},neg\n".encode() for i in range(10))


@pytest.fixture
def alpha(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    return tenant_a


def snapshot(version) -> list[tuple]:
    return list(
        Example.objects.filter(version=version).order_by("index").values_list("text", "label", "split")
    )


def test_append_makes_version_2_with_version_1s_rows_and_splits_plus_the_new_ones(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification", seed=7)
    before = snapshot(v1)
    new = [EngineExample(text=f"lovely thing {i}", label="pos") for i in range(10)]

    v2 = dataset_version_append(dataset=v1.dataset, examples=new, actor="feedback-bot")

    assert (v2.number, v2.parent, v2.source_kind, v2.created_by) == (2, v1, "append", "feedback-bot")
    assert v2.row_count == 30 and v2.split_config == {"ratios": [0.8, 0.1, 0.1], "seed": 7}
    assert snapshot(v2)[:20] == before  # same rows, same splits
    assert snapshot(v1) == before  # version 1 is untouched
    added = snapshot(v2)[20:]
    assert {split for _, _, split in added} == {"train", "validation", "test"}
    assert v2.content_hash != v1.content_hash


def test_append_skips_rows_already_in_the_dataset(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    v2 = dataset_version_append(
        dataset=v1.dataset,
        examples=[EngineExample(text="nice thing 3", label="pos"), EngineExample("new", "neg")],
    )
    assert v2.row_count == 21
    assert [f["count"] for f in v2.report["findings"] if f["code"] == "duplicates_dropped"] == [1]


def test_appended_rows_follow_the_upload_rules(alpha):
    dataset = dataset_create(name="tickets", task="classification", label_set=["pos", "neg"])
    with pytest.raises(DatasetUploadError) as caught:
        dataset_version_append(
            dataset=dataset,
            examples=[EngineExample("fine", "pos"), EngineExample("  ", "neg"), EngineExample("x", "meh")],
        )
    codes = [(e["line"], e["code"]) for e in caught.value.report["errors"]]
    assert codes == [(2, "empty_text"), (3, "unknown_label")]
    assert dataset.versions.count() == 0


def test_append_to_a_dataset_without_versions_makes_version_1(alpha):
    dataset = dataset_create(name="tickets", task="multilabel")
    rows = [EngineExample(text=f"text {i}", labels=["a", "b"] if i % 2 else ["a"]) for i in range(10)]
    version = dataset_version_append(dataset=dataset, examples=rows, source_kind="feedback")
    assert version.number == 1 and version.parent is None and version.row_count == 10
    assert version.labels == ["a", "b"]


def test_csv_export_neutralises_spreadsheet_formulas(alpha):
    data = (
        b'text,label\n"=HYPERLINK(""http://evil"")",pos\n+1 555 0100,neg\n-2 apples,pos\n@SUM(A1),neg\n'
        b'"\ttabbed",pos\nplain text,=cmd\n' + CSV.split(b"\n", 1)[1]
    )
    version = dataset_upload(name="formulas", file=data, filename="f.csv", task="classification")

    content, filename, content_type = dataset_version_export(version=version, fmt="csv")

    assert filename == "formulas-v1.csv" and content_type.startswith("text/csv")
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["text", "label", "split"]
    by_text = {row[0]: row for row in rows[1:]}
    for cell in ['\'=HYPERLINK("http://evil")', "'+1 555 0100", "'-2 apples", "'@SUM(A1)"]:
        assert cell in by_text
    assert by_text["plain text"][1] == "'=cmd"
    assert by_text["nice thing 0"][1] == "pos"


def test_csv_export_of_multilabel_joins_labels_with_a_bar(alpha):
    dataset = dataset_create(name="tags", task="multilabel")
    rows = [
        EngineExample(text=f"text {i}", labels=["billing", "urgent"] if i % 2 else ["billing"])
        for i in range(10)
    ]
    version = dataset_version_append(dataset=dataset, examples=rows)
    content, _, _ = dataset_version_export(version=version, fmt="csv")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == "text,labels,split" and "text 1,billing|urgent," in content.decode()


def test_extraction_cannot_be_exported_as_csv(alpha):
    dataset = dataset_create(name="ner", task="extraction")
    dataset_version_append(dataset=dataset, examples=[EngineExample("Ada", entities=[Span(0, 3, "person")])])
    with pytest.raises(DatasetError, match="Export it as JSON Lines"):
        dataset_version_export(version=dataset.latest_version, fmt="csv")


def test_an_unknown_export_format_is_refused(alpha):
    version = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    with pytest.raises(DatasetError, match="Choose csv or jsonl"):
        dataset_version_export(version=version, fmt="xlsx")


@pytest.mark.parametrize(
    ("task", "source", "filename"),
    [
        ("classification", "banking77/train.csv", "train.csv"),
        ("extraction", "wnut17/wnut17train.conll", "train.conll"),
    ],
)
def test_reuploading_a_jsonl_export_gives_the_same_content_hash(alpha, task, source, filename):
    path = shared_dataset(source)
    label_column = "category" if task == "classification" else None
    v1 = dataset_upload(
        name="original", file=path.read_bytes(), filename=filename, task=task, label_column=label_column
    )

    content, exported_name, content_type = dataset_version_export(version=v1, fmt="jsonl")
    again = dataset_upload(name="copy", file=content, filename=exported_name, task=task)

    assert exported_name == "original-v1.jsonl" and content_type == "application/jsonl"
    assert again.content_hash == v1.content_hash
    assert again.split_counts == v1.split_counts and again.row_count == v1.row_count


def test_multilabel_jsonl_round_trip_keeps_the_hash(alpha):
    dataset = dataset_create(name="tags", task="multilabel")
    rows = [EngineExample(text=f"text {i}", labels=["b", "a"] if i % 2 else ["a"]) for i in range(12)]
    v1 = dataset_version_append(dataset=dataset, examples=rows)
    content, _, _ = dataset_version_export(version=v1, fmt="jsonl")
    first = json.loads(content.splitlines()[1])
    assert first == {"text": "text 1", "labels": ["b", "a"], "split": first["split"]}
    assert (
        dataset_upload(name="tags2", file=content, filename="t.jsonl", task="multilabel").content_hash
        == v1.content_hash
    )


def test_rows_read_back_for_training_carry_their_split(alpha):
    version = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    examples = dataset_version_to_examples(version)
    assert len(examples) == 20 and all(ex.split for ex in examples)
    assert examples[0] == EngineExample(text="nice thing 0", label="pos", split=examples[0].split, line=2)


def test_examples_can_be_narrowed_by_split_label_and_search(alpha):
    version = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    assert dataset_version_examples(version=version, label="neg").count() == 10
    assert dataset_version_examples(version=version, search="THING 1").count() == 2
    train = dataset_version_examples(version=version, split="train")
    assert train.count() == version.split_counts["train"]
