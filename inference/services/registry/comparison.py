"""Two versions of one model side by side."""

from __future__ import annotations

from core.exceptions import ApplicationError
from inference.engine.confidence import paired_difference
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
            "confidence_interval": (a.metrics or {}).get("confidence_interval"),
            "method": a.method,
            "dataset_hash": a.dataset_hash,
        },
        "b": {
            "number": b.number,
            "headline": b.metrics.get("headline"),
            "confidence_interval": (b.metrics or {}).get("confidence_interval"),
            "method": b.method,
            "dataset_hash": b.dataset_hash,
        },
        "headline_delta": (b.headline_value - a.headline_value)
        if a.headline_value is not None and b.headline_value is not None
        else None,
        "per_label": rows,
        "noise": _noise(a, b),
    }


def _noise(a: ModelVersion, b: ModelVersion) -> dict:
    """Whether the headline difference is within noise: a paired bootstrap when both versions were
    scored on the same test rows, else whether their confidence intervals overlap."""
    ma, mb = a.metrics or {}, b.metrics or {}
    metric = a.headline_metric
    if a.headline_value is None or b.headline_value is None or metric != b.headline_metric:
        return {"method": None, "within_noise": None, "interval": None, "says": ""}
    oa, ob = ma.get("outcomes"), mb.get("outcomes")
    names = f"v{a.number} and v{b.number}"
    if oa and ob and oa.get("rows") and oa.get("rows") == ob.get("rows"):
        paired = paired_difference(oa, ob, metric)
        low, high = paired["interval"]
        span = f"the 95% interval of the difference is [{low:+.3f}, {high:+.3f}]"
        says = (
            f"Within noise: {names} were scored on the same test rows and {span}, which includes 0."
            if paired["within_noise"]
            else f"Beyond noise: {names} were scored on the same test rows and {span}, which excludes 0."
        )
        return {
            "method": "paired_bootstrap",
            "within_noise": paired["within_noise"],
            "interval": [low, high],
            "says": says,
        }
    ia, ib = ma.get("confidence_interval"), mb.get("confidence_interval")
    if ia and ib:
        overlap = ia[0] <= ib[1] and ib[0] <= ia[1]
        says = f"{names} were scored on different test rows, so they cannot be compared row by row; " + (
            "their 95% intervals overlap, so the difference may be noise."
            if overlap
            else "their 95% intervals do not overlap, so the difference is beyond noise."
        )
        return {"method": "interval_overlap", "within_noise": overlap, "interval": None, "says": says}
    older = " and ".join(f"v{v.number}" for v, m in ((a, ma), (b, mb)) if not m.get("confidence_interval"))
    return {
        "method": None,
        "within_noise": None,
        "interval": None,
        "says": f"{older} {'was' if ' and ' not in older else 'were'} evaluated before confidence "
        "intervals were recorded, so whether the difference is noise cannot be said.",
    }
