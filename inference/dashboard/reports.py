"""An upload or version report in plain words: each problem, how many rows, where, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field

# Short names for the row problems the file reader reports; the reader's own message says how to fix it.
ERROR_TITLES = {
    "missing_column": "A column is missing",
    "empty_text": "Rows without text",
    "missing_label": "Rows without a label",
    "unknown_label": "Labels that are not allowed in this dataset",
    "text_too_long": "Texts that are too long",
    "too_many_fields": "Rows with more fields than the header",
    "too_few_fields": "Rows with fewer fields than the header",
    "bad_json": "Lines that are not valid JSON",
    "bad_split": "Unknown split names",
    "too_many_rows": "Too many rows",
    "file_too_large": "The file is too large",
    "empty_file": "The file is empty",
    "not_text": "The file is not a text file",
    "invalid_name": "The dataset name is not valid",
    "invalid_task": "Choose what the model should do",
}
# Dataset-level findings, titled in the words of someone who knows their data, not ML.
FINDING_TITLES = {
    "duplicates_dropped": "Duplicate rows removed",
    "conflicting_labels": "Same text, different labels",
    "too_few_examples": "Too few examples of a label",
    "rare_label": "A label with few examples",
    "too_few_labels": "Too few labels",
    "class_imbalance": "Balance between labels",
    "train_test_leakage": "Test texts also used for learning",
    "empty_split": "A part of the data is empty",
    "no_test_split": "No test examples",
    "no_examples": "No examples",
}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Problem:
    severity: str  # error | warning | info
    title: str
    message: str
    fix: str = ""
    count: int = 0
    lines: list[int] = field(default_factory=list)
    more_lines: int = 0
    at_least: bool = False  # the stored errors were capped: ``count`` is a lower bound


def problems(report: dict) -> list[Problem]:
    """Row errors grouped by kind (errors first), then dataset findings by severity.

    The reader stores at most ``MAX_STORED_ERRORS`` row errors plus one saying how many more it
    left out; that note is kept, and the counts of a capped report read "at least".
    """
    grouped: dict[str, list[dict]] = {}
    unlisted: list[dict] = []
    for error in report.get("errors") or []:
        if error.get("code") == "too_many_errors":
            unlisted.append(error)
            continue
        grouped.setdefault(error.get("code") or "error", []).append(error)
    listed = sum(len(errors) for errors in grouped.values())
    capped = bool(unlisted) or int(report.get("error_count") or 0) > listed
    out = []
    for code, errors in grouped.items():
        lines = sorted({e["line"] for e in errors if e.get("line") is not None})
        problem, fix = _split_fix(errors[0].get("message") or "")
        title = ERROR_TITLES.get(code) or code.replace("_", " ").capitalize()
        out.append(
            Problem(
                "error",
                title,
                problem,
                fix,
                count=len(errors) if lines else 0,
                lines=lines[:12],
                more_lines=max(0, len(lines) - 12),
                at_least=capped and bool(lines),
            )
        )
    for error in unlisted:
        problem, fix = _split_fix(error.get("message") or "")
        out.append(Problem("error", "More problems not listed", problem, fix))
    for finding in report.get("findings") or []:
        out.append(
            Problem(
                finding.get("severity") or "info",
                FINDING_TITLES.get(finding.get("code") or "")
                or (finding.get("code") or "").replace("_", " ").capitalize(),
                finding.get("message") or "",
                count=int(finding.get("count") or 0),
            )
        )
    for warning in report.get("warnings") or []:
        out.append(Problem("warning", "Note", str(warning)))
    out.sort(key=lambda p: SEVERITY_ORDER.get(p.severity, 3))
    return out


def _split_fix(message: str) -> tuple[str, str]:
    """The reader writes "what is wrong. What to do." — show the two parts separately."""
    head, sep, tail = message.partition(". ")
    if not sep or not tail:
        return message, ""
    return head[:1].upper() + head[1:] + ".", tail
