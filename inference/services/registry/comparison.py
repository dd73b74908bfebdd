"""Two versions of one model side by side."""

from __future__ import annotations

from core.exceptions import ApplicationError
from inference.models import ModelVersion


def model_versions_compare(*, a: ModelVersion, b: ModelVersion) -> dict:
    """Side-by-side figures of two versions of one model, per label where both have them."""
    if a.model_id != b.model_id:
        raise ApplicationError("Only versions of the same model can be compared.")

    def per_label(v):
        return v.metrics.get("per_label") or v.metrics.get("per_type") or {}

    la, lb = per_label(a), per_label(b)
    rows = []
    for label in sorted(set(la) | set(lb)):
        fa, fb = (la.get(label) or {}).get("f1"), (lb.get(label) or {}).get("f1")
        rows.append(
            {"label": label, "a": fa, "b": fb, "delta": None if fa is None or fb is None else fb - fa}
        )
    return {
        "a": {
            "number": a.number,
            "headline": a.metrics.get("headline"),
            "method": a.method,
            "dataset_hash": a.dataset_hash,
        },
        "b": {
            "number": b.number,
            "headline": b.metrics.get("headline"),
            "method": b.method,
            "dataset_hash": b.dataset_hash,
        },
        "headline_delta": (b.headline_value - a.headline_value)
        if a.headline_value is not None and b.headline_value is not None
        else None,
        "per_label": rows,
    }
