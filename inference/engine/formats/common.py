"""What every format reader shares: the options, the result, the split names and the error cap."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Example, RowError

FORMATS = ("csv", "tsv", "jsonl", "conll")
MAX_STORED_ERRORS = 1000

# Accepted spellings of split names, mapped to the canonical SPLITS.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "development": "validation",
    "test": "test",
    "testing": "test",
}


@dataclass
class ParseOptions:
    """How to read an upload; ``label_column`` defaults by task (label, labels, entities)."""

    task: str  # "classification" | "multilabel" | "extraction"
    format: str | None = None  # "csv" | "tsv" | "jsonl" | "conll"; None = auto-detect
    text_column: str = "text"
    label_column: str | None = None  # default "label" / "labels" / "entities" by task
    split_column: str = "split"
    max_text_length: int = 10_000
    max_rows: int = 500_000
    repair_bio: bool = False


@dataclass
class ParseResult:
    """Examples and row errors; ``encoding`` is "utf-16" or "binary" for a rejected non-text file."""

    examples: list[Example]
    errors: list[RowError]
    format: str
    encoding: str
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


class _TooManyRows(Exception):
    """Raised inside a reader once ``max_rows`` rows were read and another one follows."""


def cap_errors(errors: list[RowError], limit: int = MAX_STORED_ERRORS) -> list[RowError]:
    """Keep the first ``limit`` errors and add one saying how many more were left out."""
    if len(errors) <= limit:
        return errors
    return errors[:limit] + [_unlisted_error(len(errors) - limit)]


def _unlisted_error(more: int) -> RowError:
    return RowError(
        None,
        "too_many_errors",
        f"{more:,} more problems were found but are not listed. Fix the ones above and "
        "upload the file again to see the rest.",
    )


def default_label_column(task: str) -> str:
    return {"classification": "label", "multilabel": "labels"}.get(task, "entities")


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break on U+2028 etc. inside JSON strings.
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
