"""The upload options, defined once: what each means, its default, and how a typed value is read.

The admin, the dashboard and the API show the same help texts and read values with the same
functions, and ``dataset_upload`` reads them again, so a value means the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from inference.engine.formats import SPLIT_ALIASES
from inference.engine.types import SPLITS

from .reports import DatasetError
from .rules import DEFAULT_SEED, DEFAULT_SPLIT_RATIOS, parse_split_config

DEFAULT_SPLIT_COLUMN = "split"

HELP = {
    "text_column": "The column (CSV header or JSON key) holding the text. Default: text.",
    "label_column": "The column holding the label. Empty: label, labels or entities, depending on the task.",
    "format": "auto detects the format from the file's content; or csv, tsv, jsonl, conll.",
    "split_column": "The column holding each row's official split (train, validation/dev, test). Default: split.",
    "split": (
        "Put every row of this file in one split (train, validation or test), for a corpus that ships its "
        "splits as separate files (WNUT-17's train, dev and test). When the dataset already has a version, "
        "the new version is that version plus this file's rows."
    ),
    "split_ratios": (
        "How rows without a split are divided into train/validation/test: 80/10/10 (the default), "
        "or three numbers such as 0.8, 0.1, 0.1."
    ),
    "split_seed": f"Seed of the platform's split: the same rows and seed give the same split. Default: {DEFAULT_SEED}.",
    "repair_bio": (
        "Extraction only: fix tag sequences where an entity starts with I- (O I-person becomes O B-person). "
        "IOB1 files such as CoNLL-2003 are converted without it."
    ),
    "labels": (
        "A new dataset's declared labels, separated by commas or new lines. Rows with any other label are "
        "refused. Empty: any label."
    ),
}


def split_ratios_parse(value: Any) -> list[float]:
    """Ratios from "80/10/10", "0.8, 0.1, 0.1" or three numbers; percentages when they add up to 100."""
    if value is None or value == "" or value == []:
        return list(DEFAULT_SPLIT_RATIOS)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 1:
        value = value[0]  # one form field holding "80/10/10"
    parts = [p for p in re.split(r"[\s/,;:]+", value.strip()) if p] if isinstance(value, str) else list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 3:
        raise DatasetError(
            f"The split ratios '{_shown(value)}' are not three numbers. Write them for train, validation "
            "and test, such as 80/10/10 or 0.8, 0.1, 0.1.",
            code="invalid_split_ratios",
        )
    if abs(sum(numbers) - 100) < 1e-6:
        numbers = [n / 100 for n in numbers]
    return parse_split_config(numbers, DEFAULT_SEED)["ratios"]


def split_parse(value: Any) -> str | None:
    """The canonical split every row of a file goes to (dev, val and the like accepted); None: none."""
    if value is None or not str(value).strip():
        return None
    split = SPLIT_ALIASES.get(str(value).strip().lower())
    if split is None:
        raise DatasetError(
            f"Unknown split '{_shown(value)}'. Choose {', '.join(SPLITS)} (or leave it empty).",
            code="invalid_split",
        )
    return split


def labels_parse(value: Any) -> list[str]:
    """Declared labels from "a, b" or one per line (or a list)."""
    if value is None:
        return []
    items = re.split(r"[,\n]", value) if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def upload_kwargs(data: Mapping[str, Any]) -> dict[str, Any]:
    """``dataset_upload`` keyword arguments from a surface's cleaned option values."""
    return {
        "text_column": data.get("text_column") or "text",
        "label_column": data.get("label_column") or None,
        "format": data.get("format") or "auto",
        "split_column": data.get("split_column") or DEFAULT_SPLIT_COLUMN,
        "split": data.get("split") or None,
        "split_ratios": data.get("split_ratios") or list(DEFAULT_SPLIT_RATIOS),
        "seed": DEFAULT_SEED if data.get("split_seed") is None else data["split_seed"],
        "repair_bio": bool(data.get("repair_bio")),
        "label_set": data.get("labels") or None,
    }


def _shown(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else ", ".join(str(v) for v in value)
        if isinstance(value, list)
        else str(value)
    )
    return text if len(text) <= 60 else text[:59] + "…"
