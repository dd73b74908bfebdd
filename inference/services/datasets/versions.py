"""Immutable dataset versions: statistics, the one transaction that stores them, and appends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from inference.engine import words
from inference.engine.diff import examples_diff
from inference.engine.formats import ParseOptions, parse
from inference.engine.splits import annotation_labels, assign_splits, label_counts, split_counts
from inference.engine.types import SPLITS, Example, Finding
from inference.engine.validation import dedupe, findings, label_set_errors
from inference.models import Dataset, DatasetVersion
from inference.models import Example as ExampleRow
from inference.selectors.datasets import dataset_version_get, dataset_version_to_examples

from .files import content_hash, example_record, jsonl_line
from .reports import DatasetError, report_dict, rows_refused
from .rules import DEFAULT_SEED, DEFAULT_SPLIT_RATIOS, row_limit, storable_errors

_BULK_BATCH = 2000


def lock_next_number(dataset: Dataset) -> tuple[Dataset, int]:
    # The row lock serialises concurrent imports into one dataset, so version numbers never collide.
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    latest = DatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0
    return dataset, latest + 1


@dataclass
class Snapshot:
    """A version's rows and statistics, computed before the transaction opens."""

    examples: list[Example]
    task: str
    split_config: dict[str, Any]
    findings: list[Finding]
    warnings: list[str]
    received: int  # rows given, before duplicates were dropped

    @property
    def trainable(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def report(self) -> dict[str, Any]:
        report = report_dict(findings=self.findings, warnings=self.warnings, summary="")
        report["rows_received"] = self.received
        return report


def snapshot_build(
    examples: Sequence[Example],
    *,
    task: str,
    split_config: dict[str, Any],
    warnings: list[str],
    assign: bool,
    duplicates: int = 0,
) -> Snapshot:
    """Dedupe, split (rows carrying a split keep it) and judge ``examples``."""
    unique, dropped = dedupe(examples)
    dropped += duplicates
    if assign:
        # Recorded so that rows appended later stay out of the official splits the file supplied.
        given = [split for split in SPLITS if any(ex.split == split for ex in unique)]
        if given:
            split_config = {**split_config, "given": given}
        unique = assign_splits(unique, ratios=split_config["ratios"], seed=split_config["seed"], task=task)
        # A row that followed a same-text row into its split may now repeat it exactly.
        unique, more = dedupe(unique)
        dropped += more
    found = findings(unique, task)
    if dropped:
        # findings() only sees the deduplicated rows, so the rows dropped here are reported here.
        found.insert(
            0,
            Finding(
                "duplicates_dropped",
                "info",
                f"{dropped:,} row{'s' if dropped != 1 else ''} repeated an earlier row (same text, ignoring "
                "spaces and line breaks around it, same labels and split) and "
                f"{'were' if dropped != 1 else 'was'} left out; only the first copy is kept.",
                count=dropped,
            ),
        )
    return Snapshot(list(unique), task, split_config, found, list(warnings), len(examples) + duplicates)


def version_create(
    *,
    dataset: Dataset,
    number: int,
    snapshot: Snapshot,
    source_kind: str,
    source_file: str = "",
    source_filename: str = "",
    format: str = "",  # noqa: A002 - the DatasetVersion field's name
    encoding: str = "",
    parent: DatasetVersion | None = None,
    actor: str = "",
) -> DatasetVersion:
    """The version row and its examples; the caller holds the transaction and the dataset lock."""
    examples, task = snapshot.examples, snapshot.task
    counts = split_counts(examples)
    labels = sorted({label for ex in examples for label in annotation_labels(ex, task)})
    report = snapshot.report()
    report["summary"] = _success_summary(dataset.name, number, snapshot, counts, labels)
    if parent is None and number > 1:
        parent = DatasetVersion.objects.filter(dataset=dataset, number=number - 1).first()
    if parent is not None:
        report["changes"] = changes = _changes(parent, examples)
        if changes["removed"] or changes["relabelled"]:
            # A re-upload of an older file drops the corrections made since: never silently.
            report["warnings"] = [
                *report.get("warnings", []),
                f"Compared with v{parent.number}: {changes['removed']} row(s) removed and "
                f"{changes['relabelled']} relabelled (and {changes['added']} added). If you meant to keep "
                f"v{parent.number}'s corrections, upload a file that has them, or train on v{parent.number}.",
            ]
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        parent=parent,
        content_hash=content_hash(examples, task),
        source_file=source_file,
        source_filename=source_filename,
        source_kind=source_kind,
        format=format,
        encoding=encoding,
        row_count=len(examples),
        split_counts=counts,
        label_counts=label_counts(examples, task),
        labels=labels,
        split_config=snapshot.split_config,
        report=report,
        trainable=snapshot.trainable,
        created_by=actor,
    )
    ExampleRow.objects.bulk_create(
        (_row(version, i, ex, task) for i, ex in enumerate(examples)), batch_size=_BULK_BATCH
    )
    return version


def _changes(parent: DatasetVersion, examples: Sequence[Example]) -> dict[str, Any]:
    """Rows added, removed and relabelled since ``parent``, with a few of each."""
    changes = examples_diff(dataset_version_to_examples(parent), list(examples), sample=10).as_dict()
    return {"from_version": parent.number, **changes}


def _row(version: DatasetVersion, index: int, ex: Example, task: str) -> ExampleRow:
    return ExampleRow(
        version=version,
        index=index,
        text=ex.text,
        label=(ex.label or "") if task == "classification" else "",
        labels=list(ex.labels or []) if task == "multilabel" else None,
        entities=[s.as_dict() for s in ex.entities or []] if task == "extraction" else None,
        tokens=ex.tokens or None,
        split=ex.split,
        line=ex.line,
    )


def snapshot_append(
    *,
    parent: DatasetVersion | None,
    new_rows: Sequence[Example],
    task: str | None = None,
    warnings: Sequence[str] = (),
    also_given: Sequence[str] = (),
) -> Snapshot:
    """The rows of ``parent`` (same splits) plus the new rows; those without a split are split by the
    parent's ratios, but never into a split a file supplied (recorded as ``given``)."""
    task = task or parent.dataset.task
    split_config = dict(
        (parent.split_config if parent else None)
        or {"ratios": list(DEFAULT_SPLIT_RATIOS), "seed": DEFAULT_SEED}
    )
    given = set(split_config.get("given", [])) | set(also_given)
    if given:
        split_config["given"] = [split for split in SPLITS if split in given]
    old_rows = dataset_version_to_examples(parent) if parent else []
    # A new row already present in the latest version (same text and annotation) would only add a duplicate.
    known = {_identity(ex, task) for ex in old_rows}
    fresh = [ex for ex in new_rows if _identity(ex, task) not in known]
    fresh, _ = dedupe(fresh)
    dropped = len(new_rows) - len(fresh)
    # Split beside the old rows, so a new row with an old row's text joins its split; only the
    # splits the files gave are closed, not every split the old rows happen to fill.
    rows = assign_splits(
        old_rows + fresh,
        ratios=split_config["ratios"],
        seed=split_config["seed"],
        task=task,
        given_splits=given,
    )
    max_rows, quota = row_limit()
    if len(rows) > max_rows:
        who = "this workspace's quota" if quota else "the platform's limit"
        raise DatasetError(
            f"The new version would have {len(rows):,} rows, more than {who} of {max_rows:,} rows "
            "per dataset version.",
            code="too_many_rows",
        )
    return snapshot_build(
        rows, task=task, split_config=split_config, warnings=list(warnings), assign=False, duplicates=dropped
    )


def check_still_latest(dataset: Dataset, parent: DatasetVersion | None) -> None:
    """Inside the locked transaction: refuse when another version was saved since ``parent`` was read."""
    latest = dataset_version_get(dataset=dataset)
    if (latest.pk if latest else None) != (parent.pk if parent else None):
        raise DatasetError(
            f"A new version of '{dataset.name}' was saved while these rows were being added. Try again.",
            code="conflict",
        )


def dataset_version_append(
    *, dataset: Dataset, examples: Sequence[Example], source_kind: str = "append", actor: str = ""
) -> DatasetVersion:
    """A new version: every row of the latest version (same splits) plus the new, validated rows."""
    if not examples:
        raise DatasetError("There are no rows to add.", code="no_rows")
    parent = dataset_version_get(dataset=dataset)
    new_rows = _validated(examples, dataset=dataset)
    snapshot = snapshot_append(parent=parent, new_rows=new_rows, task=dataset.task)
    with transaction.atomic():
        dataset, number = lock_next_number(dataset)
        check_still_latest(dataset, parent)
        return version_create(
            dataset=dataset,
            number=number,
            snapshot=snapshot,
            source_kind=source_kind,
            parent=parent,
            actor=actor,
        )


def _validated(examples: Sequence[Example], *, dataset: Dataset) -> list[Example]:
    """New rows checked by the same rules as an uploaded file (written out as JSON Lines and parsed)."""
    task = dataset.task
    data = b"".join(jsonl_line(ex, task, keep_tokens=False) for ex in examples)
    max_rows, _ = row_limit()
    result = parse(
        data,
        ParseOptions(
            task=task, format="jsonl", max_text_length=settings.SCALPEL_MAX_TEXT_LENGTH, max_rows=max_rows
        ),
    )
    errors = (
        result.errors
        + storable_errors(result.examples)
        + label_set_errors(result.examples, task, dataset.label_set)
    )
    if errors:
        raise rows_refused(errors, warnings=result.warnings, parsed=len(result.examples), what="rows")
    # No errors means one parsed row per given row, in order: keep the given word tokens.
    for parsed, given in zip(result.examples, examples, strict=True):
        if given.tokens and words.join_tokens(given.tokens) == parsed.text:
            parsed.tokens = list(given.tokens)
    return result.examples


def _identity(ex: Example, task: str) -> tuple[Any, ...]:
    record = example_record(ex, task, canonical=True)
    record.pop("split")
    return (json.dumps(record, sort_keys=True),)


def _success_summary(
    name: str, number: int, snapshot: Snapshot, counts: dict[str, int], labels: list[str]
) -> str:
    noun = "entity type" if snapshot.task == "extraction" else "label"
    rows = len(snapshot.examples)
    dropped = snapshot.received - rows
    text = (
        f"Version {number} of '{name}': {rows:,} rows ({counts.get('train', 0):,} train, "
        f"{counts.get('validation', 0):,} validation, {counts.get('test', 0):,} test) with "
        f"{len(labels):,} {noun}{'s' if len(labels) != 1 else ''}."
    )
    if dropped:
        text += f" {dropped:,} repeated row{'s were' if dropped != 1 else ' was'} left out."
    if not snapshot.trainable:
        text += " It cannot be trained on until the problems marked as errors are fixed."
    return text
