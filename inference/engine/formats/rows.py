"""The readers' shared state and row checks: error reporting, splits, text, columns and labels."""

from __future__ import annotations

import json
from typing import Any

from ..types import Example, RowError
from .common import (
    MAX_STORED_ERRORS,
    SPLIT_ALIASES,
    ParseOptions,
    ParseResult,
    _TooManyRows,
    default_label_column,
)


class _RowParser:
    """Per-file state shared by the format readers: options, results and counters."""

    def __init__(self, options: ParseOptions, result: ParseResult) -> None:
        self.options = options
        self.result = result
        self.task = options.task
        self.label_column = options.label_column or default_label_column(options.task)
        self.rows = 0
        self.repaired = 0
        self.converted = 0  # IOB1 sequences rewritten as IOB2
        self.trimmed = 0  # entity spans with spaces around them
        self.unlisted = 0
        self.iob1 = False  # decided per file, before its rows are read

    def notes(self) -> list[str]:
        """Warnings about what was changed on the way in."""
        out = []
        if self.converted:
            out.append(
                "The tags use the IOB1 scheme (as CoNLL-2003 files do, an entity may start with I-), so "
                f"{_count(self.converted, 'tag sequence')} {_were(self.converted)} converted to IOB2 "
                "(B- starts every entity); every entity was kept as it was."
            )
        if self.repaired:
            out.append(f"{_count(self.repaired, 'BIO tag sequence')} {_were(self.repaired)} repaired.")
        if self.trimmed:
            out.append(
                f"{_count(self.trimmed, 'entity span')} started or ended with spaces; "
                f"{'it was' if self.trimmed == 1 else 'they were'} trimmed to the text they mark."
            )
        return out

    def error(self, line: int | None, code: str, message: str) -> None:
        # Past the cap only count: a broken 500k-row file must not build 500k messages.
        if len(self.result.errors) >= MAX_STORED_ERRORS:
            self.unlisted += 1
            return
        prefix = f"Line {line}: " if line is not None else ""
        self.result.errors.append(RowError(line, code, prefix + message))

    def count_row(self) -> None:
        if self.rows >= self.options.max_rows:
            raise _TooManyRows
        self.rows += 1

    def split(self, line: int, value: Any) -> tuple[bool, str | None]:
        """Canonical split for a cell/field value; ``(False, None)`` after reporting a bad one."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return True, None
        key = str(value).strip().lower()
        if key in SPLIT_ALIASES:
            return True, SPLIT_ALIASES[key]
        self.error(
            line,
            "bad_split",
            f"unknown split '{value}'. Use train, validation (or dev/valid/val) or test, "
            "or leave it empty to let Scalpel choose.",
        )
        return False, None

    def check_text(self, line: int, text: str) -> bool:
        if not text.strip():
            self.error(line, "empty_text", "the text is empty. Add the text or delete the row.")
            return False
        if len(text) > self.options.max_text_length:
            hint = _quote_hint([text]) if self.result.format in ("csv", "tsv") else ""
            self.error(
                line,
                "text_too_long",
                f"the text is {len(text):,} characters long; the limit is "
                f"{self.options.max_text_length:,} characters. Shorten it or split it into several rows.{hint}",
            )
            return False
        return True

    def required_columns(self, found: list[str], *, label: bool = True) -> bool:
        """Check the text (and label) columns exist; one error naming what exists if not."""
        kind = "labels" if self.task == "multilabel" else "label"
        wanted = [("text", self.options.text_column, "text_column")]
        if label:
            wanted.append((kind, self.label_column, "label_column"))
        # JSON keys must match exactly; CSV headers also match ignoring case and spaces.
        exact = self.result.format == "jsonl"
        missing = [w for w in wanted if (w[1] not in found if exact else _find_column(found, w[1]) is None)]
        if not missing:
            return True
        shown = ", ".join(f"'{c}'" for c in found[:30]) or "none"
        what = " and ".join(f"no '{name}' column for the {k}" for k, name, _ in missing)
        options = " and ".join(option for _, _, option in missing)
        self.error(
            None,
            "missing_column",
            f"There is {what}. The columns in this file are: {shown}. "
            f"Set {options} to the column{'s' if len(missing) > 1 else ''} that hold{'' if len(missing) > 1 else 's'} "
            f"the {' and the '.join(k for k, _, _ in missing)}.",
        )
        return False

    def _add_labelled(self, line: int, text: str, raw_label: Any, split: str | None) -> None:
        """Add a classification/multilabel example after checking its text and label."""
        if not self.check_text(line, text):
            return
        if self.task == "multilabel":
            labels = self._multilabels(line, raw_label)
            if labels is not None:
                self.result.examples.append(Example(text=text, labels=labels, split=split, line=line))
            return
        raw_label = _whole(raw_label)
        if isinstance(raw_label, float):
            self.error(
                line,
                "bad_label",
                f"the label is the number {raw_label!r}, but a label must be a name (whole numbers such as 3 "
                f'are read as names). If {raw_label!r} is the name of a label, write it in quotes: "{raw_label!r}".',
            )
            return
        if raw_label is not None and (isinstance(raw_label, bool) or not isinstance(raw_label, str | int)):
            self.error(line, "bad_label", f"the label must be a single name, got {_json_type(raw_label)}.")
            return
        label = "" if raw_label is None else str(raw_label).strip()
        if not label:
            self.error(
                line,
                "missing_label",
                f"the label is missing. Fill in the '{self.label_column}' value or delete the row.",
            )
            return
        self.result.examples.append(Example(text=text, label=label, split=split, line=line))

    def _multilabels(self, line: int, raw: Any) -> list[str] | None:
        """Labels from ``a|b``, a JSON list, or a list; empty means no labels."""
        if raw is None:
            return []
        if isinstance(raw, str):
            cell = raw.strip()
            if cell.startswith("["):
                try:
                    raw = json.loads(cell)
                except (ValueError, RecursionError):
                    self.error(
                        line,
                        "bad_labels",
                        "the labels look like a JSON list but are not valid JSON. Write them as "
                        '["a", "b"] or as a|b.',
                    )
                    return None
            else:
                raw = cell.split("|")
        if isinstance(raw, list):
            raw = [_whole(x) for x in raw]
        if not isinstance(raw, list) or not all(
            isinstance(x, str | int) and not isinstance(x, bool) for x in raw
        ):
            self.error(
                line,
                "bad_labels",
                "the labels must be a list of names, written as a|b or as a JSON list of strings.",
            )
            return None
        labels = [str(x).strip() for x in raw]
        # dict.fromkeys keeps first-seen order while dropping repeats.
        return list(dict.fromkeys(label for label in labels if label))


def _whole(value: Any) -> Any:
    """A JSON number that is a whole number (3.0) as an int, so it names the same label as 3."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _quote_hint(row: list[str]) -> str:
    """A hint for rows that probably swallowed the lines after them through an unclosed quote."""
    if any(cell.count("\n") >= 2 for cell in row):
        return " If this row swallowed the rows after it, look for a double quote that is never closed."
    return ""


def _find_column(columns: list[str], name: str) -> int | None:
    """Index of ``name`` in the header, exact first, then ignoring case and surrounding spaces."""
    if name in columns:
        return columns.index(name)
    folded = [c.strip().casefold() for c in columns]
    key = name.strip().casefold()
    return folded.index(key) if key in folded else None


def _json_type(value: Any) -> str:
    names = {
        list: "a list",
        dict: "an object",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }
    return names.get(type(value), "null" if value is None else "a value")
