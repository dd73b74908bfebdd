"""``parse``: decode an upload, pick its format and read it, naming the format in errors it may cause."""

from __future__ import annotations

from ..types import TASKS, RowError
from .common import FORMATS, ParseOptions, ParseResult, _TooManyRows, _unlisted_error
from .conll import _ConllReader
from .delimited import _DelimitedReader
from .detect import _detect
from .encoding import decode
from .jsonl import _JsonlReader

_FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON Lines", "conll": "CoNLL"}
# File-level errors that may come from reading the file in the wrong format.
_FORMAT_ERRORS = ("missing_column", "format_not_supported", "json_array", "no_rows")


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


class _Parser(_DelimitedReader, _JsonlReader, _ConllReader):
    """One file's parser: the shared row checks and every format's reader."""
