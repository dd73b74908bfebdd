"""What every format reader shares: the options, the result, the split names and the error cap."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Example, RowError

FORMATS = ("csv", "tsv", "jsonl", "conll")
BOM = "\ufeff"
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


def cap_errors(
    errors: list[RowError], limit: int = MAX_STORED_ERRORS, *, unlisted: int = 0
) -> list[RowError]:
    """Keep the first ``limit`` errors and add one saying how many more (``unlisted`` besides) were left out."""
    more = max(len(errors) - limit, 0) + unlisted
    return (errors[:limit] + [_unlisted_error(more)]) if more else errors


def _unlisted_error(more: int) -> RowError:
    return RowError(
        None,
        "too_many_errors",
        f"{more:,} more {'problem was' if more == 1 else 'problems were'} found but "
        f"{'is' if more == 1 else 'are'} not listed. Fix the ones above and "
        "upload the file again to see the rest.",
    )


def default_label_column(task: str) -> str:
    return {"classification": "label", "multilabel": "labels"}.get(task, "entities")


def _lines(text: str) -> list[str]:
    """The lines of a JSON Lines or CoNLL file, whatever their line endings (Windows, Unix or old Mac)."""
    # Not str.splitlines(): it would also break on U+2028 etc. inside JSON strings.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A byte order mark at the start of a later line is left over from concatenated files.
    return [line.removeprefix(BOM) for line in lines]
