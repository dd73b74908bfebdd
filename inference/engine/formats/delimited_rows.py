"""CSV and TSV text cut into rows of cells, with the line each row starts and ends on.

Quotes are where delimited files go wrong silently: a stray double quote makes Python's csv module
swallow the rows after it into one cell, or drop the quote from the text. So quoting is read
strictly (a malformed quote is a ``QuoteProblem`` saying how to fix it), and a TSV file that splits
cleanly on tabs is read without quoting at all, as the tools that write such files (SST-2 and
other corpora) mean it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from .common import BOM

# Excel writes "sep=;" as the first line of a CSV file to say which delimiter the file uses.
_EXCEL_SEPARATOR = re.compile(r"sep=(\\t|[^\w\s\"]|\t)")
_QUOTED_CELL = re.compile(r'"((?:[^"]|"")*)"')
# A whole quoted cell with a tab inside: only CSV quoting reads that line as its writer meant.
_QUOTED_TAB = re.compile(r'(?:^|\t)"(?:[^"]|"")*\t(?:[^"]|"")*"(?=\t|$)')
_EXAMPLE_LIMIT = 60  # longest cell quoted back in a message with its corrected spelling


@dataclass
class Row:
    line: int  # the 1-based line it starts on
    end: int  # the line it ends on: later than ``line`` when a quoted cell holds line breaks
    cells: list[str]


@dataclass
class QuoteProblem:
    line: int
    code: str
    message: str


def physical_lines(text: str) -> list[str]:
    """The lines as the csv module counts them (after \\r\\n, \\r or \\n), each with its line break."""
    lines = io.StringIO(text, newline="").readlines()
    # A byte order mark at the start of a later line is left over from concatenated files.
    return [line.removeprefix(BOM) for line in lines]


def excel_separator(lines: list[str]) -> str | None:
    """The delimiter named by an Excel ``sep=`` first line, or None when there is none."""
    match = _EXCEL_SEPARATOR.fullmatch(lines[0].rstrip("\r\n")) if lines else None
    if match is None:
        return None
    return "\t" if match.group(1) in ("\\t", "\t") else match.group(1)


def read_rows(lines: list[str], start: int, delimiter: str) -> Iterator[Row | QuoteProblem]:
    """The rows from ``lines[start]`` on; blank lines come back as rows without cells."""
    if delimiter == "\t" and _splits_evenly(lines, start):
        return _unquoted_rows(lines, start)
    return _quoted_rows(lines, start, delimiter)


def _splits_evenly(lines: list[str], start: int) -> bool:
    """Whether every line splits on tabs into as many fields as the first (trailing empty ones aside),
    none of them a quoted cell holding a tab."""
    width = None
    for line in islice(lines, start, None):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if '"' in line and _QUOTED_TAB.search(line):
            return False
        cells = line.split("\t")
        if width is None:
            width = len(cells)
        elif len(cells) < width or any(cell.strip() for cell in cells[width:]):
            return False
    return True


def _unquoted_rows(lines: list[str], start: int) -> Iterator[Row]:
    # Quotes are text here, except around a whole cell written the CSV way ("...", quotes doubled).
    for number, line in enumerate(islice(lines, start, None), start=start + 1):
        cells = line.rstrip("\r\n").split("\t")
        yield Row(number, number, [_unquote(cell) for cell in cells] if line.strip() else [])


def _unquote(cell: str) -> str:
    match = _QUOTED_CELL.fullmatch(cell)
    return match.group(1).replace('""', '"') if match else cell


def _quoted_rows(lines: list[str], start: int, delimiter: str) -> Iterator[Row | QuoteProblem]:
    # strict=True turns a malformed quote into an error instead of a silently mangled row; after
    # one, reading starts again on the line after the broken row's first line, so that the rows a
    # stray quote would have swallowed are still read and checked.
    first = start  # 0-based index of the line the next row starts on
    while first < len(lines):
        # Not islice(lines, first, None): it steps over the first lines one by one on every restart.
        rest = (lines[i] for i in range(first, len(lines)))
        reader = csv.reader(rest, delimiter=delimiter, strict=True)
        offset = first
        try:
            for cells in reader:
                end = offset + reader.line_num
                yield Row(first + 1, end, cells)
                first = end
            return
        except csv.Error as exc:
            yield _quote_problem(lines[first], first + 1, offset + reader.line_num, delimiter, str(exc))
            first += 1


def _quote_problem(line: str, number: int, error_line: int, delimiter: str, reason: str) -> QuoteProblem:
    cell = _bad_quoted_cell(line.rstrip("\r\n"), delimiter)
    if cell is None or not reason.startswith(("unexpected end of data", f"'{delimiter}' expected after")):
        return QuoteProblem(number, "unreadable_row", f"the row could not be read ({reason}).")
    fix = _quote_fix(cell)
    if reason.startswith("unexpected end of data"):
        return QuoteProblem(
            number,
            "unclosed_quote",
            f"the double quote at the start of '{_short(cell)}' is never closed, so the rest of the file "
            f"would be read as one cell. {fix}; otherwise add the missing closing quote.",
        )
    if error_line == number:
        what = f"the cell '{_short(cell)}' starts with a double quote but does not end with one"
        return QuoteProblem(number, "bad_quote", f"{what}, so it cannot be read as quoted text. {fix}.")
    return QuoteProblem(
        number,
        "bad_quote",
        f"the double quote at the start of '{_short(cell)}' opens a quoted cell that is closed only on "
        f"line {error_line}, where more text follows the closing quote. {fix}; otherwise close the quote "
        "where the cell ends.",
    )


def _bad_quoted_cell(line: str, delimiter: str) -> str | None:
    """The first cell of ``line`` that opens a quote and is not one whole quoted cell."""
    pos = 0
    while pos <= len(line):
        if line.startswith('"', pos):
            match = _QUOTED_CELL.match(line, pos)
            after = match.end() if match else pos + 1
            if match and (after == len(line) or line[after] == delimiter):
                pos = after + 1
                continue
            end = line.find(delimiter, after)
            return line[pos:] if end < 0 else line[pos:end]
        end = line.find(delimiter, pos)
        if end < 0:
            return None
        pos = end + 1
    return None


def _quote_fix(cell: str) -> str:
    if cell.count('"') == 1:
        how = "If the quote belongs to the text, put the whole cell in double quotes and double the quote inside it"
    else:
        how = "If the quotes belong to the text, put the whole cell in double quotes and double each quote inside it"
    if len(cell) > _EXAMPLE_LIMIT:
        return how
    return f'{how}: "{cell.replace(chr(34), chr(34) * 2)}"'


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:39] + "…"


def swallowed_rows_warning(spans: list[tuple[int, int]]) -> str | None:
    """A warning for quoted cells that ran over lines which look like rows of their own."""
    if not spans:
        return None
    if len(spans) == 1:
        start, end = spans[0]
        what = (
            f"Lines {start}-{end} were read as one row: a double quote on line {start} opens a cell that "
            f"closes only on line {end}, and each of these lines looks like a row of its own."
        )
        where = f"the quotes on lines {start} and {end} belong"
    else:
        ranges = ", ".join(f"{start}-{end}" for start, end in spans[:5])
        more = f" and {len(spans) - 5:,} more" if len(spans) > 5 else ""
        what = (
            f"{len(spans):,} rows run over several lines that each look like a row of their own (lines "
            f"{ranges}{more}): a double quote opens a cell that closes only on a later line."
        )
        where = "the quotes on the first and last line of each belong"
    return (
        f"{what} If they are separate rows, {where} to the text: put each of those cells in double "
        "quotes and double the quote inside it. If the text really runs over those lines, all is well."
    )


def looks_like_rows(lines: list[str], row: Row, delimiter: str, width: int) -> bool:
    """Whether a row runs over three or more lines that each hold enough delimiters to be a row.

    Two lines are not enough: real texts end in a line break before their closing quote
    (banking77 has such rows), and prose holds commas."""
    return row.end - row.line >= 2 and all(
        line.count(delimiter) >= width - 1 for line in lines[row.line - 1 : row.end]
    )
