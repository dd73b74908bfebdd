"""Every upload rule, seen through the service as the user sees it: one message saying what to fix."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from inference.models import Dataset, DatasetUpload, DatasetVersion, Example
from inference.services.datasets import DatasetError, DatasetUploadError, dataset_create, dataset_upload
from tenants.error_bodies import status_of

GOOD_ROWS = "".join(f"nice thing {i},pos\nawful thing {i},neg\n" for i in range(5))


@pytest.fixture
def alpha(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    connection.set_tenant(tenant_a)
    return tenant_a


def refused(**kwargs) -> DatasetUploadError:
    """Upload expecting a refusal; checks nothing was stored and the attempt was recorded."""
    kwargs.setdefault("name", "data")
    kwargs.setdefault("filename", "data.csv")
    with pytest.raises(DatasetUploadError) as caught:
        dataset_upload(**kwargs)
    assert DatasetVersion.objects.count() == 0 and Example.objects.count() == 0
    attempt = DatasetUpload.objects.get(dataset_name=kwargs["name"])
    assert attempt.status == "failed" and attempt.report == caught.value.report
    assert caught.value.report["summary"] and caught.value.report["errors"]
    return caught.value


def messages(error: DatasetUploadError) -> list[str]:
    return [e["message"] for e in error.report["errors"]]


def jsonl(*rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def test_a_missing_label_column_names_the_columns_found_and_the_option_to_set(alpha):
    error = refused(file=b"text,category\nhello,greeting\nbye,farewell\n", task="classification")
    assert error.code == "missing_column"
    assert messages(error) == [
        "There is no 'label' column for the label. The columns in this file are: 'text', 'category'. "
        "Set label_column to the column that holds the label."
    ]
    assert error.report["summary"].startswith("Nothing was imported. There is no 'label' column")


def test_empty_text_names_the_line(alpha):
    error = refused(file=f"text,label\n{GOOD_ROWS}  ,pos\n".encode(), task="classification")
    assert error.report["errors"] == [
        {
            "line": 12,
            "code": "empty_text",
            "message": "Line 12: the text is empty. Add the text or delete the row.",
        }
    ]


def test_a_label_outside_the_declared_set_is_refused_with_a_suggestion(alpha):
    dataset_create(name="data", task="classification", label_set=["positive", "negative"])
    error = refused(file=b"text,label\ngreat,positive\nbad,negativ\n", task="classification")
    assert messages(error) == [
        "Line 3: label 'negativ' (did you mean 'negative'?) is not allowed. Use one of: 'positive', 'negative'."
    ]
    assert Dataset.objects.get(name="data").versions.count() == 0


def test_malformed_json_says_where_and_why(alpha):
    error = refused(
        file=jsonl(
            {"text": "fine", "label": "a"}, '{"text": "broken", "label": "b"', {"text": "ok", "label": "b"}
        ),
        filename="data.jsonl",
        task="classification",
    )
    assert error.report["errors"][0]["line"] == 2
    assert error.report["errors"][0]["code"] == "bad_json"
    assert "Each line must be one JSON object" in messages(error)[0]


def test_a_span_outside_the_text_is_refused(alpha):
    error = refused(
        file=jsonl(
            {"text": "Ada lives in Paris", "entities": [{"start": 13, "end": 30, "label": "location"}]}
        ),
        filename="spans.jsonl",
        task="extraction",
    )
    assert messages(error) == [
        "Line 1: entity 1 (13-30) lies outside the text, which is 18 characters long. "
        "Offsets count characters from 0; fix 'start' and 'end'."
    ]


def test_overlapping_spans_are_refused(alpha):
    row = {
        "text": "New York City",
        "entities": [
            {"start": 0, "end": 8, "label": "location"},
            {"start": 4, "end": 13, "label": "location"},
        ],
    }
    error = refused(file=jsonl(row), filename="spans.jsonl", task="extraction")
    assert error.report["errors"][0]["code"] == "overlapping_entities"
    assert "'New York' (0-8, location) and 'York City' (4-13, location) overlap" in messages(error)[0]


def test_invalid_bio_is_refused_and_can_be_repaired_on_request(alpha):
    conll = b"Ada\tI-person\nlives\tO\n\nin\tO\nParis\tB-location\n"
    error = refused(file=conll, filename="tags.conll", task="extraction")
    assert error.report["errors"][0]["code"] == "invalid_bio"
    assert "Or turn on BIO repair" in messages(error)[0]

    version = dataset_upload(
        name="data", file=conll, filename="tags.conll", task="extraction", repair_bio=True
    )
    assert version.labels == ["location", "person"]
    assert "1 BIO tag sequence was repaired." in version.report["warnings"]


def test_text_over_the_limit_is_refused_naming_the_limit(alpha, settings):
    settings.SCALPEL_MAX_TEXT_LENGTH = 20
    error = refused(file=f"text,label\n{GOOD_ROWS}{'x' * 25},pos\n".encode(), task="classification")
    assert messages(error) == [
        "Line 12: the text is 25 characters long; the limit is 20 characters. "
        "Shorten it or split it into several rows."
    ]


class Unreadable:
    """A file that knows its size but must never be read."""

    name = "huge.csv"
    size = 2048

    def read(self, *args):
        raise AssertionError("an oversize file was read into memory")

    def chunks(self):
        raise AssertionError("an oversize file was read into memory")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(alpha, settings):
    settings.SCALPEL_UPLOAD_MAX_BYTES = 1024
    error = refused(file=Unreadable(), filename=None, task="classification")
    assert error.code == "file_too_large"
    assert error.report["summary"].startswith(
        "The file is 2.0 KB; the largest file you can upload is 1.0 KB."
    )
    assert DatasetUpload.objects.get().size_bytes == 2048


def test_more_rows_than_the_platform_allows_are_refused(alpha, settings):
    settings.SCALPEL_UPLOAD_MAX_ROWS = 6
    error = refused(file=f"text,label\n{GOOD_ROWS}".encode(), task="classification")
    assert error.report["errors"][-1]["code"] == "too_many_rows"
    assert "more than 6 rows, the most one upload may hold" in messages(error)[-1]


def test_more_rows_than_the_tenant_quota_are_refused_naming_the_quota(alpha):
    connection.tenant.max_dataset_rows = 4  # in memory only: the tenant row is not saved
    error = refused(file=f"text,label\n{GOOD_ROWS}".encode(), task="classification")
    assert messages(error)[-1].startswith(
        "The file has more than 4 rows, and this workspace may hold at most 4 rows in one dataset version."
    )


def test_an_empty_file_is_refused(alpha):
    error = refused(file=b"", task="classification")
    assert messages(error) == ["The file is empty."]


def test_a_file_where_every_row_failed_is_refused(alpha):
    error = refused(file=b"text,label\n  ,a\nhello,\n", task="classification")
    assert error.report["error_count"] == 2
    assert error.report["summary"] == (
        "Nothing was imported: none of the rows could be read (2 problems). Fix them and try again."
    )


def test_a_nul_character_the_database_cannot_store_is_refused(alpha):
    error = refused(file=jsonl({"text": "a\u0000b", "label": "x"}), filename="d.jsonl", task="classification")
    assert error.report["errors"][0]["code"] == "bad_character"


def test_many_problems_are_counted_and_summarised_by_the_first_line(alpha):
    rows = "".join(f"{i},\n" for i in range(1200))
    error = refused(file=f"text,label\n{rows}".encode(), task="classification")
    assert error.report["error_count"] == 1200
    assert len(error.report["errors"]) == 1001  # the first 1,000 plus one line saying how many more
    assert error.report["errors"][-1]["code"] == "too_many_errors"


@pytest.mark.parametrize(
    ("name", "words"),
    [("", "Give the dataset a name"), ("my data", "not a valid dataset name"), ("-x", "starting with a letter"),
     ("x" * 101, "use at most 100")],
)  # fmt: skip
def test_dataset_names_follow_slug_rules_with_a_clear_message(alpha, name, words):
    with pytest.raises(DatasetError, match=words):
        dataset_create(name=name, task="classification")


def test_an_unknown_task_lists_the_tasks(alpha):
    with pytest.raises(DatasetError, match="Choose one of: classification, multilabel, extraction"):
        dataset_create(name="data", task="regression")


def test_a_duplicate_dataset_name_is_refused(alpha):
    dataset_create(name="data", task="classification")
    with pytest.raises(DatasetError, match="already exists") as caught:
        dataset_create(name="data", task="classification")
    assert status_of(caught.value) == 409


def test_an_upload_for_another_task_than_the_datasets_is_refused(alpha):
    dataset_create(name="data", task="classification")
    error = refused(file=f"text,labels\n{GOOD_ROWS}".encode(), task="multilabel")
    assert error.code == "task_mismatch"
    assert "holds classification data, but this upload is for multilabel" in error.report["summary"]


def test_split_ratios_that_do_not_add_up_are_refused(alpha):
    error = refused(
        file=f"text,label\n{GOOD_ROWS}".encode(), task="classification", split_ratios=(0.5, 0.1, 0.1)
    )
    assert error.code == "invalid_split_ratios"
    assert "add up to 1" in error.report["summary"]


def test_problems_found_by_different_checks_are_listed_in_line_order(alpha):
    dataset_create(name="data", task="classification", label_set=["pos", "neg"])
    error = refused(file=f"text,label\n{GOOD_ROWS}bad,negative\n  ,pos\n".encode(), task="classification")
    assert [(e["line"], e["code"]) for e in error.report["errors"]] == [
        (12, "unknown_label"),
        (13, "empty_text"),
    ]
    assert error.report["summary"] == (
        "Nothing was imported: 2 problems were found (the first on line 12). Fix them and upload the file again."
    )


def test_an_entity_covering_part_of_a_word_is_imported_with_a_warning_in_the_report(alpha):
    rows = [{"text": f"A Berlin-based band {i}", "entities": [[2, 8, "LOC"]]} for i in range(3)]
    version = dataset_upload(name="bands", file=jsonl(*rows), filename="bands.jsonl", task="extraction")
    [warning] = [f for f in version.report["findings"] if f["code"] == "partial_word_entities"]
    assert warning["severity"] == "warning" and warning["count"] == 3
    example = (
        "'Berlin' (line 1) covers part of the word 'Berlin-based'; the model learns whole words, so it "
        "will be trained as 'Berlin-based'"
    )
    assert example in warning["message"]
