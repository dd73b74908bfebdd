"""Reading a model version's evaluation the way a business user asks about it: where is it weak?

Only presentation is derived here (which labels to call out, which cells to draw); the figures
themselves come from the evaluation the worker stored with the version. The dashboard and the
tenant admin both read versions through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.models import ModelVersion
from inference.selectors.datasets import dataset_version_examples

# Below this F1 a label is called weak: roughly one in five of its texts is handled wrongly.
WEAK_F1 = 0.8
HEATMAP_MAX_LABELS = 12
ENTITY_COLOURS = 8  # CSS classes ent-0 … ent-7


@dataclass
class WeakLabel:
    label: str
    f1: float
    support: int
    train_examples: int | None


def per_label(metrics: dict) -> dict[str, dict]:
    """Per-label (classification, multilabel) or per-entity-type (extraction) figures."""
    return metrics.get("per_label") or metrics.get("per_type") or {}


def train_counts(version: ModelVersion) -> dict[str, int]:
    counts = (version.dataset_version.label_counts or {}).get("train") or {}
    return {str(k): int(v) for k, v in counts.items()}


def is_untested(row: dict) -> bool:
    # Support 0: the test split has no example of the label, so its F1 of 0 says nothing about it.
    # An older evaluation without a support figure is taken at its word.
    support = row.get("support")
    return support is not None and int(support) == 0


def untested_labels(metrics: dict) -> list[str]:
    """Labels the test split has no example of: their quality is unknown, not weak."""
    return sorted(label for label, r in per_label(metrics).items() if is_untested(r))


def weak_labels(version: ModelVersion, *, limit: int | None = None) -> list[WeakLabel]:
    """Labels under WEAK_F1 on at least one test example, weakest first, with their training examples."""
    counts = train_counts(version)
    weak = [
        WeakLabel(label, float(r.get("f1") or 0.0), int(r.get("support") or 0), counts.get(label))
        for label, r in per_label(version.metrics).items()
        if float(r.get("f1") or 0.0) < WEAK_F1 and not is_untested(r)
    ]
    weak.sort(key=lambda w: (w.f1, w.label))
    return weak[:limit] if limit else weak


def heat(value: int, maximum: int) -> int:
    """Colour intensity 0-100 for a heatmap cell (square root, so small counts stay visible)."""
    if value <= 0 or maximum <= 0:
        return 0
    return max(8, round((value / maximum) ** 0.5 * 100))


def confusion_focus(metrics: dict, *, max_labels: int = HEATMAP_MAX_LABELS) -> dict | None:
    """The confusion matrix reduced to the labels involved in the most mistakes (all of them when few)."""
    cm = metrics.get("confusion_matrix") or {}
    labels, matrix = cm.get("labels") or [], cm.get("matrix") or []
    if not labels or not matrix:
        return None
    n = len(labels)
    if n <= max_labels:
        keep = list(range(n))
    else:
        # A label's share of the mistakes: its off-diagonal row (missed) plus column (wrongly predicted).
        errors = [sum(matrix[i][j] + matrix[j][i] for j in range(n) if j != i) for i in range(n)]
        keep = sorted(sorted(range(n), key=lambda i: (-errors[i], labels[i]))[:max_labels])
    top = max((matrix[i][j] for i in keep for j in keep), default=0)
    rows = []
    for i in keep:
        support = sum(matrix[i])
        cells = [
            {
                "value": matrix[i][j],
                "heat": heat(matrix[i][j], top),
                "diagonal": i == j,
                "predicted": labels[j],
            }
            for j in keep
        ]
        rows.append({"label": labels[i], "support": support, "cells": cells})
    return {"labels": [labels[j] for j in keep], "rows": rows, "reduced": n > len(keep), "total_labels": n}


def segments(text: str, spans: list[dict], colours: dict[str, int]) -> list[dict]:
    """``text`` cut into plain and labelled pieces for highlighting; overlapping spans are skipped."""
    pieces, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        start, end = int(span["start"]), int(span["end"])
        if start < cursor or end > len(text) or start >= end:
            continue
        if start > cursor:
            pieces.append({"text": text[cursor:start]})
        label = span["label"]
        colours.setdefault(label, len(colours) % ENTITY_COLOURS)
        pieces.append({"text": text[start:end], "label": label, "colour": colours[label]})
        cursor = end
    if cursor < len(text):
        pieces.append({"text": text[cursor:]})
    return pieces


def extraction_examples(version: ModelVersion, *, limit: int = 20) -> list[dict]:
    """Test texts the model got wrong, with true and predicted spans side by side.

    The stored predictions follow the test split in file order (that is how the worker
    evaluated), so they are matched back to the stored rows; a mismatch shows nothing rather
    than wrong pairs.
    """
    predictions = version.metrics.get("predictions") or []
    rows = list(dataset_version_examples(version=version.dataset_version, split="test")[: len(predictions)])
    if len(rows) != len(predictions):
        return []
    colours: dict[str, int] = {}
    out = []
    for row, pred in zip(rows, predictions, strict=True):
        gold = row.entities or []
        got = pred.get("entities") or []
        if _span_keys(gold) == _span_keys(got):
            continue
        out.append(
            {
                "text": row.text,
                "gold": segments(row.text, gold, colours),
                "predicted": segments(row.text, got, colours),
            }
        )
        if len(out) >= limit:
            break
    return out


def multilabel_mistakes(version: ModelVersion) -> list[dict]:
    """Test texts whose predicted label set differs from the true one, in test order.

    Matched back to the stored test rows like ``extraction_examples``; each label is shown with
    its score, so a label missed just under the threshold can be told from one never considered.
    """
    predictions = version.metrics.get("predictions") or []
    rows = list(dataset_version_examples(version=version.dataset_version, split="test")[: len(predictions)])
    if len(rows) != len(predictions):
        return []
    out = []
    for row, pred in zip(rows, predictions, strict=True):
        true, got = set(row.labels or []), set(pred.get("labels") or [])
        if true == got:
            continue
        scores = pred.get("scores") or {}
        out.append(
            {
                "text": row.text,
                "true": [{"label": lab, "hit": lab in got, "score": scores.get(lab)} for lab in sorted(true)],
                "predicted": [
                    {"label": lab, "hit": lab in true, "score": scores.get(lab)} for lab in sorted(got)
                ],
            }
        )
    return out


def _span_keys(spans: list[dict]) -> list[tuple]:
    return sorted((s["start"], s["end"], s["label"]) for s in spans)
