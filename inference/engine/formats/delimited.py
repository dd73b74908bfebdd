"""CSV and TSV: a header row naming the columns, then one example per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from .common import _lines
from .detect import _sniff_delimiter
from .rows import _find_column, _quote_hint, _RowParser


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
