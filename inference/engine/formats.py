"""Parse uploaded files (CSV, TSV, JSON Lines, CoNLL) into Examples with row-level errors.

Every problem a user can fix in their file becomes a ``RowError`` with a 1-based line number
and a sentence saying what to change; ``parse`` never raises on the file's content.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import words
from .types import TASKS, Example, RowError, Span

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

_TAG = re.compile(r"O|[BI]-\S+")
_CSV_DELIMITERS = (",", "\t", ";", "|")
# C0 control characters that text files do not contain (tab, line breaks and form feed are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


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


# --------------------------------------------------------------------------- decoding


_NOT_TEXT = "This does not look like a text file ({}). Upload a CSV, TSV, JSON Lines or CoNLL text file."


def decode(data: bytes) -> tuple[str | None, str, str | None]:
    """Decode ``data``: returns ``(text, encoding, problem)``; text is None when it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (
            None,
            "utf-16",
            "The file is saved as UTF-16. Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again.",
        )
    if b"\x00" in data:
        return None, "binary", _NOT_TEXT.format("it contains binary data")
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    try:
        text, encoding = body.decode("utf-8"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        # Latin-1 maps every byte to a character, so it is the fallback of last resort.
        text, encoding = body.decode("latin-1"), "latin-1"
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        return None, "binary", _NOT_TEXT.format("it contains many control characters")
    return text, encoding, None


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break on U+2028 etc. inside JSON strings.
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


# --------------------------------------------------------------------------- detection


def detect_format(data: bytes) -> str:
    """Guess the format of ``data`` from its content: ``csv``, ``tsv``, ``jsonl`` or ``conll``."""
    text, _, _ = decode(data)
    return _detect(text or "")


def _detect(text: str) -> str:
    sample = [line for line in _lines(text[:65536]) if line.strip()][:200]
    if not sample:
        return "csv"
    if sample[0].lstrip().startswith(("{", "[")):
        return "jsonl"
    tagged = [_looks_tagged(line) for line in sample]
    # CSV/TSV need a header, which never ends in a tag, so a tagged first line is telling.
    if tagged[0] and sum(tagged) >= 0.5 * len(sample):
        return "conll"
    return "tsv" if _sniff_delimiter(sample[0]) == "\t" else "csv"


def _looks_tagged(line: str) -> bool:
    fields = line.split()
    return line.startswith("-DOCSTART-") or (len(fields) >= 2 and _TAG.fullmatch(fields[-1]) is not None)


def _sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the candidate that occurs most outside double quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in _CSV_DELIMITERS}
    best = max(_CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# --------------------------------------------------------------------------- parse


def parse(data: bytes, options: ParseOptions) -> ParseResult:
    """Parse an uploaded file; problems come back as errors, never as exceptions."""
    if options.task not in TASKS:
        raise ValueError(f"unknown task {options.task!r}; expected one of {', '.join(TASKS)}")
    if options.format is not None and options.format not in FORMATS:
        raise ValueError(f"unknown format {options.format!r}; expected one of {', '.join(FORMATS)}")

    text, encoding, problem = decode(data)
    result = ParseResult([], [], options.format or "csv", encoding)
    if text is None:
        result.errors.append(RowError(None, "not_text", problem or "The file is not a text file."))
        return result
    if encoding == "latin-1":
        result.warnings.append(
            "The file is not valid UTF-8, so it was decoded as Latin-1. If accented letters look "
            "wrong, save the file as UTF-8 and upload it again."
        )
    if not text.strip():
        result.errors.append(RowError(None, "empty_file", "The file is empty."))
        return result

    result.format = options.format or _detect(text)
    parser = _Parser(options, result)
    try:
        if result.format in ("csv", "tsv"):
            parser.parse_delimited(text)
        elif result.format == "jsonl":
            parser.parse_jsonl(text)
        else:
            parser.parse_conll(text)
        too_many = False
    except _TooManyRows:
        too_many = True
    if parser.unlisted:
        result.errors.append(_unlisted_error(parser.unlisted))
    if too_many:
        # Appended past the cap on purpose: it says why the rest of the file was not read.
        result.errors.append(
            RowError(
                None,
                "too_many_rows",
                f"The file has more than {options.max_rows:,} rows, the most one upload may hold. "
                f"Only the first {options.max_rows:,} were read; split the file into smaller ones.",
            )
        )
    if parser.repaired:
        result.warnings.append(f"{parser.repaired:,} BIO tag sequences were repaired.")
    if not result.examples and not result.errors:
        result.errors.append(RowError(None, "no_rows", "The file has no data rows."))
    return result


class _Parser:
    """Per-file state shared by the format readers: options, results and counters."""

    def __init__(self, options: ParseOptions, result: ParseResult) -> None:
        self.options = options
        self.result = result
        self.task = options.task
        self.label_column = options.label_column or default_label_column(options.task)
        self.rows = 0
        self.repaired = 0
        self.unlisted = 0

    # ---- helpers

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

    def check_tags(self, line: int, tags: list[str]) -> list[str] | None:
        """Validated IOB2 tags (repaired when asked); None after reporting a problem."""
        problems = words.bio_problems(tags)
        if problems and self.options.repair_bio:
            repaired = words.repair_bio(tags)
            if not words.bio_problems(repaired):
                self.repaired += 1
                return repaired
            problems = words.bio_problems(repaired)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            fix = "" if self.options.repair_bio else " Or turn on BIO repair to fix these automatically."
            self.error(
                line,
                "invalid_bio",
                "invalid BIO tags: " + "; ".join(problems[:3]) + more + "." + fix,
            )
            return None
        return tags

    def from_tokens(self, line: int, tokens: list[str], tags: list[str], split: str | None) -> None:
        """Build an extraction example from pre-tokenised words and their tags."""
        if len(tokens) != len(tags):
            self.error(
                line,
                "tokens_tags_mismatch",
                f"there are {len(tokens)} tokens but {len(tags)} tags; every token needs exactly one tag.",
            )
            return
        for i, tok in enumerate(tokens):
            if not tok.strip():
                self.error(line, "empty_token", f"token {i + 1} is empty. Remove it together with its tag.")
                return
        text = words.join_tokens(tokens)
        if not self.check_text(line, text):
            return
        checked = self.check_tags(line, tags)
        if checked is None:
            return
        spans = words.tags_to_spans(words.word_offsets(text, tokens), checked)
        self.result.examples.append(
            Example(text=text, entities=spans, tokens=list(tokens), split=split, line=line)
        )

    # ---- CSV / TSV

    def parse_delimited(self, text: str) -> None:
        if self.task == "extraction":
            self.error(
                None,
                "format_not_supported",
                "Extraction data cannot be uploaded as CSV or TSV. Upload JSON Lines (rows with "
                '"text" and "entities", or "tokens" and "tags") or a CoNLL file (one word and its '
                "tag per line).",
            )
            return
        # Raise the field limit so a huge field is reported as too long instead of crashing.
        csv.field_size_limit(2**31 - 1)
        first = next((line for line in _lines(text) if line.strip()), "")
        delimiter = "\t" if self.result.format == "tsv" else _sniff_delimiter(first)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = self._csv_rows(reader)
        header = next(rows, None)
        if header is None:
            return
        _, columns = header
        columns = [c.strip() for c in columns]
        self.result.columns = columns
        text_idx = _find_column(columns, self.options.text_column)
        label_idx = _find_column(columns, self.label_column)
        split_idx = _find_column(columns, self.options.split_column)
        if text_idx is None or label_idx is None:
            self.required_columns(columns)
            return
        width = len(columns)
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            self.count_row()
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                self.error(
                    line,
                    "too_many_fields",
                    f"the row has {len(row)} fields but the header has {width} columns. If the text "
                    f'contains the delimiter, put the text in double quotes ("...").{_quote_hint(row)}',
                )
                continue
            if max(text_idx, label_idx) >= len(row):
                self.error(
                    line,
                    "too_few_fields",
                    f"the row has {len(row)} fields but the header has {width} columns. Fill in the "
                    f"missing values.{_quote_hint(row)}",
                )
                continue
            ok, split = self.split(
                line, row[split_idx] if split_idx is not None and split_idx < len(row) else None
            )
            if ok:
                self._add_labelled(line, row[text_idx].strip(), row[label_idx], split)

    def _csv_rows(self, reader: Any) -> Iterator[tuple[int, list[str]]]:
        """Rows with the line each starts on; a reader error is reported and ends the file."""
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.error(start, "unreadable_row", f"the file could not be read from here on ({exc}).")
                return
            yield start, row
            start = reader.line_num + 1

    def _add_labelled(self, line: int, text: str, raw_label: Any, split: str | None) -> None:
        """Add a classification/multilabel example after checking its text and label."""
        if not self.check_text(line, text):
            return
        if self.task == "multilabel":
            labels = self._multilabels(line, raw_label)
            if labels is not None:
                self.result.examples.append(Example(text=text, labels=labels, split=split, line=line))
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

    # ---- JSON Lines

    def parse_jsonl(self, text: str) -> None:
        if text.lstrip().startswith("[") and _is_json_array(text):
            self.error(
                1,
                "json_array",
                "the file is a single JSON array. Upload JSON Lines instead: one JSON object per line.",
            )
            return
        objects: list[tuple[int, dict[str, Any]]] = []
        keys: dict[str, None] = {}
        for number, raw in enumerate(_lines(text), start=1):
            if not raw.strip():
                continue
            self.count_row()
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                self.error(
                    number,
                    "bad_json",
                    f"this is not valid JSON ({_json_reason(exc)}). Each line must be one JSON object.",
                )
                continue
            if not isinstance(obj, dict):
                self.error(
                    number,
                    "not_object",
                    'each line must be a JSON object like {"text": ...}, not a ' + _json_type(obj) + ".",
                )
                continue
            objects.append((number, obj))
            keys.update(dict.fromkeys(str(k) for k in obj))
        self.result.columns = list(keys)[:100]
        if not objects:
            return
        # Extraction rows may be pre-tokenised (no text field) and may have no entities at all.
        if self.task == "extraction":
            if "tokens" not in keys and not self.required_columns(list(keys), label=False):
                return
        elif not self.required_columns(list(keys)):
            return
        for number, obj in objects:
            self._json_row(number, obj)

    def _json_row(self, line: int, obj: dict[str, Any]) -> None:
        ok, split = self.split(line, obj.get(self.options.split_column))
        if not ok:
            return
        if self.task == "extraction":
            if "tokens" in obj and self.options.text_column not in obj:
                self._json_tokens(line, obj, split)
            else:
                self._json_entities(line, obj, split)
            return
        text = obj.get(self.options.text_column)
        if not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        self._add_labelled(line, text.strip(), obj.get(self.label_column), split)

    def _json_tokens(self, line: int, obj: dict[str, Any], split: str | None) -> None:
        tokens = obj.get("tokens")
        tags = obj.get("tags", obj.get("ner_tags"))
        if not _str_list(tokens):
            self.error(line, "bad_tokens", "'tokens' must be a list of strings.")
            return
        if not _str_list(tags):
            self.error(
                line, "bad_tags", "'tags' must be a list of tag strings such as O, B-person, I-person."
            )
            return
        self.from_tokens(line, tokens, [t.strip() for t in tags], split)

    def _json_entities(self, line: int, obj: dict[str, Any], split: str | None) -> None:
        text = obj.get(self.options.text_column)
        if not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        # Entity offsets point into the text as given, so it is checked but never stripped.
        if not self.check_text(line, text):
            return
        raw = obj.get(self.label_column)
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            self.error(line, "bad_entities", f"'{self.label_column}' must be a list of entities.")
            return
        spans: list[Span] = []
        for i, ent in enumerate(raw, start=1):
            span = self._entity(line, i, ent, text)
            if span is None:
                return
            spans.append(span)
        spans = sorted(set(spans), key=lambda s: (s.start, s.end, s.label))
        for prev, cur in zip(spans, spans[1:], strict=False):
            if cur.start < prev.end:
                self.error(
                    line,
                    "overlapping_entities",
                    f"entities '{text[prev.start : prev.end]}' ({prev.start}-{prev.end}, {prev.label}) and "
                    f"'{text[cur.start : cur.end]}' ({cur.start}-{cur.end}, {cur.label}) overlap. "
                    "Keep only one of them.",
                )
                return
        self.result.examples.append(Example(text=text, entities=spans, split=split, line=line))

    def _entity(self, line: int, i: int, ent: Any, text: str) -> Span | None:
        """One entity from ``{"start","end","label"}`` (or ``[start, end, label]``), checked."""
        if isinstance(ent, list) and len(ent) == 3:
            ent = {"start": ent[0], "end": ent[1], "label": ent[2]}
        if not isinstance(ent, dict):
            self.error(
                line,
                "bad_entity",
                f'entity {i} must be an object like {{"start": 0, "end": 5, "label": "person"}}.',
            )
            return None
        start, end, label = ent.get("start"), ent.get("end"), ent.get("label")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            self.error(
                line,
                "bad_entity_offsets",
                f"entity {i}: 'start' and 'end' must be whole numbers (character positions), got {start!r} and {end!r}.",
            )
            return None
        if not isinstance(label, str) or not label.strip():
            self.error(line, "bad_entity_label", f"entity {i} has no 'label'. Give every entity a type.")
            return None
        if end <= start:
            self.error(
                line,
                "bad_entity_offsets",
                f"entity {i}: 'end' ({end}) must be greater than 'start' ({start}).",
            )
            return None
        if start < 0 or end > len(text):
            self.error(
                line,
                "entity_outside_text",
                f"entity {i} ({start}-{end}) lies outside the text, which is {len(text)} characters long. "
                "Offsets count characters from 0; fix 'start' and 'end'.",
            )
            return None
        return Span(start, end, label.strip())

    # ---- CoNLL

    def parse_conll(self, text: str) -> None:
        if self.task != "extraction":
            self.error(
                None,
                "format_not_supported",
                "CoNLL files hold word tags, so they can only be used for extraction. For "
                f"{self.task} upload CSV, TSV or JSON Lines.",
            )
            return
        tokens: list[str] = []
        tags: list[str] = []
        start: int | None = None
        broken = False

        def flush() -> None:
            nonlocal tokens, tags, start, broken
            if start is not None:
                self.count_row()
                if not broken:
                    self.from_tokens(start, tokens, tags, None)
            tokens, tags, start, broken = [], [], None, False

        for number, line in enumerate(_lines(text), start=1):
            if not line.strip() or line.startswith("-DOCSTART-"):
                flush()
                continue
            if start is None:
                start = number
            if broken:
                continue
            # A tab-separated file may have spaces inside tokens; otherwise any whitespace splits.
            fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
            if len(fields) < 2 or not fields[0] or not fields[-1]:
                self.error(
                    number,
                    "bad_conll_line",
                    f"expected a word and its tag separated by a tab or space, got '{line.strip()[:80]}'. "
                    "Leave an empty line between sentences.",
                )
                broken = True
                continue
            tokens.append(fields[0])
            tags.append(fields[-1])
        flush()


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


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except (ValueError, RecursionError):
        return False


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.colno}"
    return "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:100]


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
