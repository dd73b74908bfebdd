"""CSV and TSV: a header row naming the columns, then one example per row."""

from __future__ import annotations

import csv

from .delimited_rows import (
    QuoteProblem,
    Row,
    excel_separator,
    looks_like_rows,
    physical_lines,
    read_rows,
    swallowed_rows_warning,
)
from .detect import _sniff_delimiter
from .rows import _count, _find_column, _quote_hint, _RowParser


class _DelimitedReader(_RowParser):
    """Reads CSV and TSV files for classification and multilabel."""

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
        lines = physical_lines(text)
        separator = excel_separator(lines)
        start = 0 if separator is None else 1  # the "sep=" line is skipped, not renumbered
        first = next((line for line in lines[start:] if line.strip()), "")
        delimiter = separator or ("\t" if self.result.format == "tsv" else _sniff_delimiter(first))
        found = (
            row for row in read_rows(lines, start, delimiter) if isinstance(row, QuoteProblem) or row.cells
        )
        header = next(found, None)
        if not isinstance(header, Row):
            if header is not None:
                self.error(header.line, header.code, header.message)
            return
        columns = [c.strip() for c in header.cells]
        self.result.columns = columns
        text_idx = _find_column(columns, self.options.text_column)
        label_idx = _find_column(columns, self.label_column)
        split_idx = _find_column(columns, self.options.split_column)
        if text_idx is None or label_idx is None:
            self.required_columns(columns)
            return
        width = len(columns)
        swallowed = []
        for row in found:
            if not isinstance(row, QuoteProblem) and not any(cell.strip() for cell in row.cells):
                continue  # blank line
            self.count_row()
            if isinstance(row, QuoteProblem):
                self.error(row.line, row.code, row.message)
                continue
            if looks_like_rows(lines, row, delimiter, width):
                swallowed.append((row.line, row.end))
            self._delimited_row(row.line, row.cells, width, text_idx, label_idx, split_idx)
        if not self.rows:
            self.error(
                None,
                "no_rows",
                "The file has a header but no data rows. Add one row per example below the header.",
            )
        warning = swallowed_rows_warning(swallowed)
        if warning:
            self.result.warnings.append(warning)

    def _delimited_row(
        self, line: int, row: list[str], width: int, text_idx: int, label_idx: int, split_idx: int | None
    ) -> None:
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            self.error(
                line,
                "too_many_fields",
                f"the row has {_count(len(row), 'field')} but the header has {_count(width, 'column')}. If "
                f'the text contains the delimiter, put the text in double quotes ("...").{_quote_hint(row)}',
            )
            return
        if max(text_idx, label_idx) >= len(row):
            self.error(
                line,
                "too_few_fields",
                f"the row has {_count(len(row), 'field')} but the header has {_count(width, 'column')}. "
                f"Fill in the missing values.{_quote_hint(row)}",
            )
            return
        ok, split = self.split(
            line, row[split_idx] if split_idx is not None and split_idx < len(row) else None
        )
        if ok:
            self._add_labelled(line, row[text_idx].strip(), row[label_idx], split)
