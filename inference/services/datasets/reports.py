"""Refusals and reports: the typed errors the dataset services raise and the report dicts they carry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.exceptions import ApplicationError
from inference.engine.formats import cap_errors
from inference.engine.types import Finding, RowError


class DatasetError(ApplicationError):
    """A dataset operation that cannot be done, with what to do about it."""


class DatasetUploadError(DatasetError):
    """A refused import; ``report`` lists every problem: errors, warnings, findings and a summary."""

    def __init__(self, message: str, *, report: dict[str, Any], code: str = "invalid_upload"):
        super().__init__(message, code=code, details=report)
        self.report = report


def report_dict(
    *,
    errors: Sequence[RowError] = (),
    warnings: Sequence[str] = (),
    findings: Sequence[Finding] = (),
    summary: str,
    error_count: int | None = None,
) -> dict[str, Any]:
    return {
        "summary": summary,
        "errors": [e.as_dict() for e in errors],
        "error_count": len(errors) if error_count is None else error_count,
        "warnings": list(warnings),
        "findings": [f.as_dict() for f in findings],
    }


def refused(message: str, *, code: str) -> DatasetUploadError:
    """A refusal of the whole request (not of particular rows)."""
    return DatasetUploadError(
        message, report=report_dict(errors=[RowError(None, code, message)], summary=message), code=code
    )


def rows_refused(
    errors: list[RowError], *, warnings: list[str], parsed: int, what: str = "file"
) -> DatasetUploadError:
    """One refusal listing every row problem in line order, with a summary in plain words."""
    listed, unlisted = _in_line_order(errors)
    total = len(listed) + unlisted
    first_line = next((e.line for e in listed if e.line is not None), None)
    verb = "imported" if what == "file" else "added"
    if total == 1:
        summary = f"Nothing was {verb}. {listed[0].message}"
    elif parsed == 0:
        summary = f"Nothing was {verb}: none of the rows could be read ({total:,} problems). Fix them and try again."
    else:
        where = f" (the first on line {first_line})" if first_line is not None else ""
        summary = (
            f"Nothing was {verb}: {total:,} problems were found{where}. Fix them and upload the {what} again."
        )
    code = listed[0].code if total == 1 else "invalid_rows"
    report = report_dict(
        errors=_capped(listed, unlisted), warnings=warnings, summary=summary, error_count=total
    )
    return DatasetUploadError(summary, report=report, code=code)


def _in_line_order(errors: Sequence[RowError]) -> tuple[list[RowError], int]:
    """The errors sorted by line (stable; those about the whole file last), and how many more the
    "N more problems" lines of the lists they came from count."""
    unlisted = sum(_count_in(e.message) for e in errors if e.code == "too_many_errors")
    listed = sorted(
        (e for e in errors if e.code != "too_many_errors"), key=lambda e: (e.line is None, e.line or 0)
    )
    return listed, unlisted


def _capped(listed: list[RowError], unlisted: int) -> list[RowError]:
    # Each list merged here was capped on its own, keeping its first errors by line, so the first
    # errors by line of the merged list are the first of the whole file. The errors about the whole
    # file (too many rows) come after the count of those left out, as parse() puts them.
    rows = [e for e in listed if e.line is not None]
    return cap_errors(rows, unlisted=unlisted) + [e for e in listed if e.line is None]


def _count_in(message: str) -> int:
    match = re.search(r"[\d,]+", message)
    return int(match.group().replace(",", "")) if match else 0


def size_text(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
