"""Upload limits and checks shared by file uploads and appended rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection

from inference.engine.splits import assign_splits
from inference.engine.types import Example, RowError

from .reports import DatasetError

LABEL_MAX_LENGTH = 200  # Example.label column width
DEFAULT_SPLIT_RATIOS = (0.8, 0.1, 0.1)
DEFAULT_SEED = 13

# Characters PostgreSQL text cannot hold (NUL) or UTF-8 cannot encode (lone surrogates, from JSON escapes).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def parse_split_config(ratios: Sequence[float], seed: int) -> dict[str, Any]:
    try:
        ratios = [float(r) for r in ratios]
        assign_splits([], ratios=ratios, seed=int(seed))  # validates the ratios without splitting anything
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"The split ratios are not usable ({exc}). Give three numbers for train, validation and test "
            "that add up to 1, such as 0.8, 0.1, 0.1.",
            code="invalid_split_ratios",
        ) from exc
    return {"ratios": ratios, "seed": int(seed)}


def row_limit() -> tuple[int, int | None]:
    """The row limit for one version and the tenant's quota when that is what binds."""
    platform = settings.SCALPEL_UPLOAD_MAX_ROWS
    quota = getattr(connection.tenant, "max_dataset_rows", None)
    if quota is not None and quota < platform:
        return quota, quota
    return platform, None


def quota_message(errors: list[RowError], limit: int, quota: int | None) -> list[RowError]:
    """The engine's row-limit error, reworded when the tenant's quota (not the platform) is the limit."""
    if quota is None:
        return list(errors)
    reworded = (
        f"The file has more than {limit:,} rows, and this workspace may hold at most {limit:,} rows in one "
        "dataset version. Split the file, or ask your platform operator to raise the quota."
    )
    return [RowError(e.line, e.code, reworded) if e.code == "too_many_rows" else e for e in errors]


def storable_errors(examples: Sequence[Example]) -> list[RowError]:
    """Problems the parser accepts but the database cannot store."""
    errors = []
    for ex in examples:
        prefix = f"Line {ex.line}: " if ex.line is not None else ""
        labels = [ex.label or "", *(ex.labels or []), *(s.label for s in ex.entities or [])]
        if any(_UNSTORABLE.search(value) for value in (ex.text, *labels)):
            errors.append(
                RowError(
                    ex.line,
                    "bad_character",
                    prefix + "the row contains a NUL character or invalid Unicode "
                    "(for example an unpaired \\ud800 escape). Remove it.",
                )
            )
        elif any(len(label) > LABEL_MAX_LENGTH for label in labels):
            errors.append(
                RowError(
                    ex.line,
                    "label_too_long",
                    prefix + f"a label is longer than {LABEL_MAX_LENGTH} "
                    "characters. Use a short name for each label.",
                )
            )
    return errors
