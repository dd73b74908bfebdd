"""A version's rows as files: the canonical serialisation, its content hash, and exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from typing import Any

from inference.engine.types import Example
from inference.models import DatasetVersion
from inference.selectors.datasets import dataset_version_to_examples
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

from .reports import DatasetError

_SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def example_record(
    ex: Example, task: str, *, canonical: bool = False, keep_tokens: bool = False
) -> dict[str, Any]:
    """One example as a JSON Lines object; ``canonical`` orders labels so the hash ignores their order."""
    record: dict[str, Any] = {"text": ex.text}
    if task == "classification":
        record["label"] = ex.label
    elif task == "multilabel":
        record["labels"] = sorted(set(ex.labels or [])) if canonical else list(ex.labels or [])
    else:
        record["entities"] = [
            s.as_dict() for s in sorted(ex.entities or [], key=lambda s: (s.start, s.end, s.label))
        ]
        if keep_tokens and ex.tokens:
            record["tokens"] = list(ex.tokens)
    record["split"] = ex.split
    return record


def jsonl_line(ex: Example, task: str, *, keep_tokens: bool) -> bytes:
    record = example_record(ex, task, keep_tokens=keep_tokens)
    if record["split"] is None:
        del record["split"]
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


def content_hash(examples: Sequence[Example], task: str) -> str:
    """sha256 over the examples' text, annotation and split in order (not line numbers or tokens)."""
    digest = hashlib.sha256(f"scalpel-dataset/1\n{task}\n".encode())
    for ex in examples:
        # ensure_ascii keeps the bytes identical whatever characters the text holds.
        digest.update(
            json.dumps(
                example_record(ex, task, canonical=True), sort_keys=True, separators=(",", ":")
            ).encode()
        )
        digest.update(b"\n")
    return digest.hexdigest()


def dataset_version_export(
    *, version: DatasetVersion, fmt: str, actor: Actor | str = ""
) -> tuple[bytes, str, str]:
    """``(content, filename, content_type)`` of a version as ``csv`` or ``jsonl``, with each row's split."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="dataset.export")
    content, filename, content_type = _export(version=version, fmt=fmt)
    audit_record(action="dataset.exported", actor=actor, obj=version, details={"format": fmt})
    return content, filename, content_type


def _export(*, version: DatasetVersion, fmt: str) -> tuple[bytes, str, str]:
    fmt = (fmt or "").lower()
    task = version.dataset.task
    stem = f"{version.dataset.name}-v{version.number}"
    if fmt == "jsonl":
        examples = dataset_version_to_examples(version)
        return (
            b"".join(jsonl_line(ex, task, keep_tokens=True) for ex in examples),
            f"{stem}.jsonl",
            "application/jsonl",
        )
    if fmt != "csv":
        raise DatasetError(f"Unknown export format '{fmt}'. Choose csv or jsonl.", code="invalid_format")
    if task == "extraction":
        raise DatasetError(
            "Extraction data holds entity spans, which do not fit in CSV columns. Export it as JSON Lines instead.",
            code="format_not_supported",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label" if task == "classification" else "labels", "split"])
    for ex in dataset_version_to_examples(version):
        annotation = ex.label if task == "classification" else _labels_cell(ex.labels or [])
        writer.writerow([spreadsheet_safe(ex.text), spreadsheet_safe(annotation or ""), ex.split])
    # With the BOM, Excel reads the file as UTF-8 instead of garbling accented text; Scalpel's own
    # import strips it again. The quote that guards formula cells is kept on re-import.
    return buffer.getvalue().encode("utf-8-sig"), f"{stem}.csv", "text/csv; charset=utf-8"


def _labels_cell(labels: list[str]) -> str:
    """``a|b``, or a JSON list when a label holds ``|`` or the cell would read as one, so it imports back."""
    joined = "|".join(labels)
    if any("|" in label for label in labels) or joined.startswith("["):
        return json.dumps(labels, ensure_ascii=False)
    return joined


def spreadsheet_safe(cell: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula; the quote makes it plain text.
    return "'" + cell if cell.startswith(_SPREADSHEET_TRIGGERS) else cell
