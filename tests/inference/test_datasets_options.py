"""Upload options a user sets (split column, ratios, a whole-file split), appends that respect
official splits, versions that cannot be edited in place, and exports that import back."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection

from inference.engine.types import Example as EngineExample
from inference.models import Dataset, DatasetVersion, Example
from inference.models.datasets import ImmutableRecordError
from inference.selectors.datasets import dataset_version_examples, dataset_version_to_examples
from inference.services.datasets import (
    DatasetUploadError,
    dataset_upload,
    dataset_version_append,
    dataset_version_export,
)
from inference.services.datasets.options import split_ratios_parse
from tests.support import shared_dataset

CSV = b"text,label\n" + b"".join(f"nice thing {i},pos\nawful thing {i},neg\n".encode() for i in range(20))


@pytest.fixture
def alpha(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    return tenant_a


def splits_of(version) -> dict[str, str]:
    return {ex.text: ex.split for ex in dataset_version_to_examples(version)}


# ---- options ------------------------------------------------------------------------------------


def test_a_split_held_in_another_column_is_kept_when_the_column_is_named(alpha):
    data = b"text,label,fold\n" + b"".join(
        f"good {i},pos,test\nbad {i},neg,train\n".encode() for i in range(6)
    )
    version = dataset_upload(
        name="folds", file=data, filename="f.csv", task="classification", split_column="fold"
    )
    assert version.split_counts == {"train": 6, "validation": 0, "test": 6}
    assert version.split_config["given"] == ["train", "test"]


def test_split_ratios_can_be_written_as_percentages_and_the_seed_is_kept(alpha):
    version = dataset_upload(
        name="ratios", file=CSV, filename="r.csv", task="classification", split_ratios="50/25/25", seed=3
    )
    assert version.split_config == {"ratios": [0.5, 0.25, 0.25], "seed": 3}
    assert version.split_counts == {"train": 20, "validation": 10, "test": 10}


@pytest.mark.parametrize(
    ("value", "ratios"),
    [("80/10/10", [0.8, 0.1, 0.1]), ("0.7, 0.2, 0.1", [0.7, 0.2, 0.1]), ([0.6, 0.2, 0.2], [0.6, 0.2, 0.2]),
     (["70", "15", "15"], [0.7, 0.15, 0.15]), ("", [0.8, 0.1, 0.1])],
)  # fmt: skip
def test_split_ratios_are_read_the_same_way_everywhere(value, ratios):
    assert split_ratios_parse(value) == pytest.approx(ratios)


def test_unusable_split_ratios_are_refused_with_what_to_write(alpha):
    with pytest.raises(DatasetUploadError) as caught:
        dataset_upload(name="bad", file=CSV, filename="r.csv", task="classification", split_ratios="80/20")
    assert caught.value.code == "invalid_split_ratios" and "80/10/10" in caught.value.message


def test_the_same_declared_labels_may_be_given_again_for_an_existing_dataset(alpha):
    dataset_upload(name="tickets", file=CSV, filename="a.csv", task="classification", label_set="pos, neg")
    again = dataset_upload(name="tickets", file=CSV, filename="b.csv", label_set="pos\nneg")
    assert again.number == 2
    with pytest.raises(DatasetUploadError, match="cannot be changed"):
        dataset_upload(name="tickets", file=CSV, filename="c.csv", label_set="pos, neg, meh")


# ---- the platform's split -----------------------------------------------------------------------


def test_the_platforms_split_never_reports_leakage_it_created_itself(alpha):
    # Given the same texts twice, once in another case and spacing (as WNUT's dev file has them)
    rows = "".join(f"Where is item {i} ?,a{i % 3}\nwhere is  ITEM {i} ?,a{i % 3}\n" for i in range(60))
    version = dataset_upload(name="twins", file=b"text,label\n" + rows.encode(), task="classification")
    codes = {f["code"] for f in version.report["findings"]}
    assert "train_test_leakage" not in codes
    assert version.split_counts["test"] > 0


# ---- whole-file splits and appends --------------------------------------------------------------


def test_a_corpus_shipped_as_train_dev_and_test_files_becomes_one_dataset(alpha):
    files = [
        ("wnut17train.conll", "train"),
        ("emerging.dev.conll", "validation"),
        ("emerging.test.annotated", "test"),
    ]
    paths = [shared_dataset(f"wnut17/{name}") for name, _ in files]

    versions = [
        dataset_upload(
            name="wnut17", file=path.read_bytes(), filename=path.name, task="extraction", split=split
        )
        for path, (_, split) in zip(paths, files, strict=True)
    ]

    v1, v2, v3 = versions
    assert v1.split_counts["validation"] == v1.split_counts["test"] == 0
    assert (v2.parent, v3.parent) == (v1, v2)
    assert v2.split_counts["train"] == v1.split_counts["train"] and v2.split_counts["test"] == 0
    assert v3.split_counts["validation"] == v2.split_counts["validation"] and v3.split_counts["test"] > 1000
    assert v3.split_config["given"] == ["train", "validation", "test"]
    assert v3.trainable and v3.source_filename == "emerging.test.annotated"


def test_a_whole_file_split_on_a_new_dataset_puts_every_row_there(alpha):
    version = dataset_upload(
        name="test-first", file=CSV, filename="t.csv", task="classification", split="test"
    )
    assert version.split_counts == {"train": 0, "validation": 0, "test": 40}
    assert not version.trainable  # no training rows yet: the report says so


def test_a_row_whose_split_contradicts_the_whole_file_split_is_a_row_error(alpha):
    data = b"text,label,split\nhello,a,train\nbye,b,\n"
    with pytest.raises(DatasetUploadError) as caught:
        dataset_upload(name="mixed", file=data, filename="m.csv", task="classification", split="test")
    [error] = caught.value.report["errors"]
    assert error["code"] == "split_conflict" and error["line"] == 2 and "'test'" in error["message"]


def test_appended_rows_stay_out_of_the_official_splits_the_file_supplied(alpha):
    # Given a version whose file supplied the official test split
    official = b"".join(f"official {i},{'ab'[i % 2]},test\n".encode() for i in range(10))
    data = (
        b"text,label,split\n" + official + b"".join(f"row {i},{'ab'[i % 2]},\n".encode() for i in range(40))
    )
    v1 = dataset_upload(name="official", file=data, filename="o.csv", task="classification")
    assert v1.split_config["given"] == ["test"] and v1.split_counts["test"] == 10

    # When rows are appended (feedback, say)
    new = [EngineExample(text=f"feedback {i}", label="ab"[i % 2]) for i in range(40)]
    v2 = dataset_version_append(dataset=v1.dataset, examples=new)

    # Then none of them lands in the official test split, and the split stays recorded
    assert v2.split_counts["test"] == 10
    added = [ex for ex in dataset_version_examples(version=v2) if ex.text.startswith("feedback")]
    assert {ex.split for ex in added} == {"train", "validation"}
    assert v2.split_config["given"] == ["test"]


def test_an_appended_row_with_the_text_of_a_test_row_joins_the_test_split(alpha):
    v1 = dataset_upload(name="reviews", file=CSV, filename="r.csv", task="classification")
    test_text = next(text for text, split in splits_of(v1).items() if split == "test")
    v2 = dataset_version_append(
        dataset=v1.dataset, examples=[EngineExample(text=test_text.upper(), label="zzz")]
    )
    assert splits_of(v2)[test_text.upper()] == "test"


# ---- immutability -------------------------------------------------------------------------------


def test_a_stored_version_and_its_rows_cannot_be_edited_in_place(alpha):
    version = dataset_upload(name="frozen", file=CSV, filename="f.csv", task="classification")
    row = Example.objects.filter(version=version).first()

    version.row_count = 999
    with pytest.raises(ImmutableRecordError, match="immutable"):
        version.save()
    row.label = "zzz"
    with pytest.raises(ImmutableRecordError, match="new version"):
        row.save()
    with pytest.raises(ImmutableRecordError):
        Example.objects.filter(version=version).update(label="zzz")
    with pytest.raises(ImmutableRecordError):
        DatasetVersion.objects.filter(pk=version.pk).update(trainable=False)
    with pytest.raises(ImmutableRecordError):
        version.examples.update(split="test")

    version.refresh_from_db()
    assert version.row_count == 40 and not Example.objects.filter(label="zzz").exists()


def test_a_dataset_and_its_versions_can_still_be_deleted(alpha):
    v1 = dataset_upload(name="gone", file=CSV, filename="a.csv", task="classification")
    dataset_version_append(dataset=v1.dataset, examples=[EngineExample(text="new one", label="pos")])
    Dataset.objects.get(name="gone").delete()  # versions cascade; v2.parent is set null on the way
    assert not DatasetVersion.objects.filter(dataset__name="gone").exists()


# ---- exports ------------------------------------------------------------------------------------


def test_a_multilabel_csv_export_with_bars_in_labels_imports_back_unchanged(alpha):
    rows = "".join(f'text {i},"[""a|b"", ""c""]"\n' for i in range(6)) + "".join(
        f"plain {i},c|d\n" for i in range(6)
    )
    v1 = dataset_upload(
        name="bars", file=("text,labels\n" + rows).encode(), filename="b.csv", task="multilabel"
    )

    content, filename, _ = dataset_version_export(version=v1, fmt="csv")
    exported = {row[0]: row[1] for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))}
    assert exported["text 0"] == '["a|b", "c"]' and exported["plain 0"] == "c|d"

    again = dataset_upload(name="bars-copy", file=content, filename=filename, task="multilabel")
    assert again.content_hash == v1.content_hash


def test_an_unsplit_copy_of_an_official_test_row_joins_it_once(alpha):
    rows = b"".join(f"row {i},{'ab'[i % 2]},\n".encode() for i in range(30))
    data = b"text,label,split\nHello there,a,test\nhello  there,a,\n" + rows
    version = dataset_upload(name="copies", file=data, filename="c.csv", task="classification")
    assert splits_of(version)["Hello there"] == "test"
    assert "train_test_leakage" not in {f["code"] for f in version.report["findings"]}
