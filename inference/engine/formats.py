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
# For extraction a file of "word tag" lines is CoNLL even when its tags are not valid BIO
# (BIOES, lowercase): tag validation then says what is wrong with them, not the CSV reader.
_LOOSE_TAG = re.compile(r"[Oo]|[BIESLUbiesluo]-\S+")
_FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON Lines", "conll": "CoNLL"}
# File-level errors that may come from reading the file in the wrong format.
_FORMAT_ERRORS = ("missing_column", "format_not_supported", "json_array", "no_rows")
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
        text, encoding = _decode_legacy(body)
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        return None, "binary", _NOT_TEXT.format("it contains many control characters")
    return text, encoding, None


def _decode_legacy(body: bytes) -> tuple[str, str]:
    # Bytes 0x80-0x9F are control characters in Latin-1 but smart quotes, dashes and the euro sign
    # in Windows-1252, the encoding Excel on Windows saves "CSV" in.
    if re.search(rb"[\x80-\x9f]", body):
        try:
            return body.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:  # one of the five bytes Windows-1252 leaves undefined
            pass
    # Latin-1 maps every byte to a character, so it is the fallback of last resort.
    return body.decode("latin-1"), "latin-1"


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break on U+2028 etc. inside JSON strings.
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


# --------------------------------------------------------------------------- detection


def detect_format(data: bytes, task: str | None = None) -> str:
    """Guess the format of ``data`` from its content: ``csv``, ``tsv``, ``jsonl`` or ``conll``."""
    text, _, _ = decode(data)
    return _detect(text or "", task)


def _detect(text: str, task: str | None = None) -> str:
    sample = [line for line in _lines(text[:65536]) if line.strip()][:200]
    if not sample:
        return "csv"
    if sample[0].lstrip().startswith(("{", "[")):
        return "jsonl"
    pattern = _LOOSE_TAG if task == "extraction" else _TAG
    tagged = [_looks_tagged(line, pattern) for line in sample]
    # CSV/TSV need a header, which never ends in a tag, so a tagged first line is telling.
    if tagged[0] and sum(tagged) >= 0.5 * len(sample):
        return "conll"
    return "tsv" if _sniff_delimiter(sample[0]) == "\t" else "csv"


def _looks_tagged(line: str, pattern: re.Pattern[str] = _TAG) -> bool:
    fields = line.split()
    return line.startswith("-DOCSTART-") or (len(fields) >= 2 and pattern.fullmatch(fields[-1]) is not None)


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
    elif encoding == "windows-1252":
        result.warnings.append(
            "The file is not valid UTF-8; its bytes are those of Windows-1252 (what Excel on Windows "
            "saves as CSV), so it was decoded as Windows-1252. If quotes, dashes or accented letters look "
            "wrong, save the file as UTF-8 ('CSV UTF-8' in Excel) and upload it again."
        )
    if not text.strip():
        result.errors.append(RowError(None, "empty_file", "The file is empty."))
        return result

    result.format = options.format or _detect(text, options.task)
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
    result.warnings += parser.notes()
    if not result.examples and not result.errors:
        result.errors.append(RowError(None, "no_rows", "The file has no data rows."))
    _name_the_format(result, detected=options.format is None)
    return result


def _name_the_format(result: ParseResult, *, detected: bool) -> None:
    """Say how the file was read in errors that a wrong format would cause, and how to change it."""
    name = _FORMAT_NAMES.get(result.format, result.format)
    how = "detected from its content" if detected else f"because the format option is '{result.format}'"
    rest = [f for f in FORMATS if f != result.format]
    others = ", ".join(rest[:-1]) + " or " + rest[-1]
    hint = f" (The file was read as {name}, {how}; if that is wrong, set the format option to {others}.)"
    # A missing column is a wrong format only when the header did not split into columns at all.
    misread = len(result.columns) <= 1
    for error in result.errors:
        if error.code == "missing_column" and not misread:
            continue
        if error.code in _FORMAT_ERRORS and error.line is None and hint not in error.message:
            error.message += hint


class _Parser:
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
        """Validated IOB2 tags (converted from IOB1, repaired when asked); None after reporting a problem."""
        if self.iob1:
            converted = words.repair_bio(tags)  # for IOB1 this is the lossless conversion to IOB2
            self.converted += converted != tags
            tags = converted
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

    def from_tokens(
        self, line: int, tokens: list[str], tags: list[str], split: str | None, text: str | None = None
    ) -> None:
        """Build an extraction example from pre-tokenised words and their tags (and the text they
        were cut from, when given)."""
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
        joined = words.join_tokens(tokens)
        if text is None or text == joined:
            text, offsets, kept = joined, words.word_offsets(joined, tokens), list(tokens)
        else:
            offsets, bad = words.align_tokens(text, tokens)
            if offsets is None:
                self.error(
                    line, "tokens_text_mismatch", _misaligned(text, tokens, bad, self.options.text_column)
                )
                return
            # The text as given is kept; its words are found again the way serving finds them.
            kept = None
        if not self.check_text(line, text):
            return
        checked = self.check_tags(line, tags)
        if checked is None:
            return
        spans = words.tags_to_spans(offsets, checked)
        self.result.examples.append(Example(text=text, entities=spans, tokens=kept, split=split, line=line))

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
        if self.task == "extraction":
            if not self._extraction_keys(list(keys)):
                return
            self.iob1 = words.is_iob1(
                [t.strip() for t in tags]
                for _, obj in objects
                if _str_list(tags := obj.get("tags", obj.get("ner_tags")))
            )
        elif not self.required_columns(list(keys)):
            return
        for number, obj in objects:
            self._json_row(number, obj)

    def _extraction_keys(self, found: list[str]) -> bool:
        """Some row must hold text (or tokens) and some row entities (or tags); one error if not."""
        text_key, label_key = self.options.text_column, self.label_column
        missing = []
        if text_key not in found and "tokens" not in found:
            missing.append((f"no '{text_key}' key for the text (nor 'tokens')", "text_column", "text"))
        if label_key not in found and not {"tags", "ner_tags"} & set(found):
            missing.append(
                (
                    f"no '{label_key}' key for the entities (nor 'tags' beside 'tokens')",
                    "label_column",
                    "entities",
                )
            )
        if not missing:
            return True
        shown = ", ".join(f"'{c}'" for c in found[:30]) or "none"
        several = len(missing) > 1
        self.error(
            None,
            "missing_column",
            f"There is {' and '.join(m[0] for m in missing)}. The keys in this file are: {shown}. "
            f"Set {' and '.join(m[1] for m in missing)} to the key{'s' if several else ''} that "
            f"hold{'' if several else 's'} the {' and the '.join(m[2] for m in missing)}.",
        )
        return False

    def _json_row(self, line: int, obj: dict[str, Any]) -> None:
        ok, split = self.split(line, obj.get(self.options.split_column))
        if not ok:
            return
        if self.task == "extraction":
            tagged = ("tags" in obj or "ner_tags" in obj) and self.label_column not in obj
            if "tokens" in obj and (self.options.text_column not in obj or tagged):
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
        text = obj.get(self.options.text_column)
        if text is not None and not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        self.from_tokens(line, tokens, [t.strip() for t in tags], split, text)

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
        surface = text[start:end]
        if not surface.strip():
            self.error(
                line,
                "blank_entity",
                f"entity {i} ({start}-{end}) covers only spaces. Mark the words themselves.",
            )
            return None
        if surface != surface.strip():
            # "Bob " and "Bob" are the same entity; the model is taught words, not the spaces around them.
            self.trimmed += 1
            start += len(surface) - len(surface.lstrip())
            end -= len(surface) - len(surface.rstrip())
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
        # Read every sentence first: whether the file is IOB1 is decided on all of its tags.
        sentences = list(_conll_sentences(_lines(text)))
        self.iob1 = words.is_iob1(s.tags for s in sentences if s.bad_line is None)
        for sentence in sentences:
            self.count_row()
            if sentence.bad_line is not None:
                self.error(
                    sentence.bad_line,
                    "bad_conll_line",
                    f"expected a word and its tag separated by a tab or space, got '{sentence.bad_text}'. "
                    "Leave an empty line between sentences.",
                )
                continue
            self.from_tokens(sentence.start, sentence.tokens, sentence.tags, None)


@dataclass
class _Sentence:
    start: int
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    bad_line: int | None = None  # the first line that is not "word ... tag"
    bad_text: str = ""


def _conll_sentences(lines: list[str]) -> Iterator[_Sentence]:
    sentence: _Sentence | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence is not None:
                yield sentence
            sentence = None
            continue
        if sentence is None:
            sentence = _Sentence(number)
        if sentence.bad_line is not None:
            continue
        # A tab-separated file may have spaces inside tokens; otherwise any whitespace splits.
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        if len(fields) < 2 or not fields[0] or not fields[-1]:
            sentence.bad_line, sentence.bad_text = number, line.strip()[:80]
            continue
        sentence.tokens.append(fields[0])
        sentence.tags.append(fields[-1])
    if sentence is not None:
        yield sentence


def _misaligned(text: str, tokens: list[str], bad: int, text_key: str) -> str:
    if bad >= len(tokens):
        where = "the text goes on after the last token"
    else:
        shown = _short_quote(text[_skip_to_token(text, tokens, bad) :])
        where = f"token {bad + 1} '{_short_quote(tokens[bad])}' does not come next in the text (it goes on '{shown}')"
    return (
        f"the tokens do not spell out the text: {where}. The tokens, in order, must be the words of "
        f"'{text_key}' (only the spaces between them may differ); fix them, or leave '{text_key}' out."
    )


def _skip_to_token(text: str, tokens: list[str], index: int) -> int:
    offsets, _ = words.align_tokens(text, tokens[:index])
    pos = offsets[-1][1] if offsets else 0
    return len(text) - len(text[pos:].lstrip())


def _short_quote(value: str, limit: int = 30) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


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
