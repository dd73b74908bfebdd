"""``parse``: decode an upload, pick its format and read it, naming the format in errors it may cause."""

from __future__ import annotations

from ..types import TASKS, RowError
from .common import FORMATS, ParseOptions, ParseResult, _TooManyRows, _unlisted_error
from .conll import _ConllReader
from .delimited import _DelimitedReader
from .detect import detect_format
from .encoding import decode_upload, encoding_warning
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

    decoded = decode_upload(data)
    text = decoded.text
    result = ParseResult([], [], options.format or "csv", decoded.encoding)
    if text is None:
        result.errors.append(RowError(None, "not_text", decoded.problem or "The file is not a text file."))
        return result
    warning = encoding_warning(decoded)
    if warning:
        result.warnings.append(warning)
    if not text.strip():
        result.errors.append(RowError(None, "empty_file", "The file is empty."))
        return result

    result.format = options.format or detect_format(text, options.task)
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
    # In line order, so that "the first problem" is the one nearest the top of the file; errors
    # without a line (about the whole file) come last.
    result.errors.sort(key=_line_order)
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
    # A missing column or a header without rows is a wrong format only when the header did not
    # split into columns at all.
    misread = len(result.columns) <= 1
    for error in result.errors:
        if error.code in ("missing_column", "no_rows") and not misread:
            continue
        if error.code in _FORMAT_ERRORS and error.line is None and hint not in error.message:
            error.message += hint


def _line_order(error: RowError) -> tuple[bool, int]:
    return error.line is None, error.line or 0


class _Parser(_DelimitedReader, _JsonlReader, _ConllReader):
    """One file's parser: the shared row checks and every format's reader."""
