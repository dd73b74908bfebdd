"""Metrics: accuracy and F1 for each task, the multilabel threshold, words to IOB2 tags.

Evaluation reports them on the test split; training scores the validation split with them, so the
figure a run optimises is the one its version is judged by.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from .types import Example, Span
from .words import spans_to_tags, word_offsets

# The figure that judges a model of each task: training scores the validation split with it (and
# stops early on it), evaluation reports it on the test split as the version's headline.
HEADLINE_METRIC = {"classification": "accuracy", "multilabel": "micro_f1", "extraction": "f1"}
THRESHOLD_GRID = [round(0.05 * k, 2) for k in range(1, 20)]


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def classification_metrics(gold: list[str], pred: list[str], labels: list[str]) -> dict:
    """Accuracy, macro/micro F1 (macro over labels seen in gold or predictions), per label, confusions."""
    n = len(gold)
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / n if n else 0.0
    per_label, f1s = {}, []
    present = set(gold) | set(pred)
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred, strict=True))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred, strict=True))
        prec, rec, f1 = _prf(tp, fp, fn)
        per_label[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
        if lab in present:
            f1s.append(f1)
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    confused = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    return {
        "accuracy": accuracy,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "micro_f1": accuracy,  # single-label: every error is one FP and one FN
        "per_label": per_label,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix},
        "most_confused": [{"true": g, "predicted": p, "count": c} for (g, p), c in confused.most_common(10)],
    }


def multilabel_metrics(gold: list[list[str]], pred: list[list[str]], labels: list[str]) -> dict:
    """Micro/macro F1 (macro over labels seen in gold or predictions), per label, subset accuracy."""
    per_label, f1s = {}, []
    tp_all = fp_all = fn_all = 0
    gold_sets, pred_sets = [set(g) for g in gold], [set(p) for p in pred]
    for lab in labels:
        tp = sum(lab in g and lab in p for g, p in zip(gold_sets, pred_sets, strict=True))
        fp = sum(lab not in g and lab in p for g, p in zip(gold_sets, pred_sets, strict=True))
        fn = sum(lab in g and lab not in p for g, p in zip(gold_sets, pred_sets, strict=True))
        prec, rec, f1 = _prf(tp, fp, fn)
        per_label[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
        if tp + fp + fn:
            f1s.append(f1)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
    n = len(gold_sets)
    return {
        "micro_f1": _prf(tp_all, fp_all, fn_all)[2],
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_label": per_label,
        "subset_accuracy": sum(g == p for g, p in zip(gold_sets, pred_sets, strict=True)) / n if n else 0.0,
    }


def best_threshold(gold: list[list[str]], scores: np.ndarray, labels: list[str]) -> tuple[float, float]:
    """The global threshold (0.05 grid) maximising micro F1 on these examples; ties go to 0.5's side."""
    truth = np.array([[lab in set(g) for lab in labels] for g in gold], dtype=bool)
    best = (0.5, -1.0)
    for t in sorted(THRESHOLD_GRID, key=lambda t: abs(t - 0.5)):
        chosen = scores >= t
        tp = int((chosen & truth).sum())
        f1 = _prf(tp, int((chosen & ~truth).sum()), int((~chosen & truth).sum()))[2]
        if f1 > best[1]:
            best = (t, f1)
    return best[0], max(best[1], 0.0)


def extraction_metrics(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Entity-level precision/recall/F1 with seqeval in strict IOB2 mode, overall and per type."""
    # seqeval.metrics pulls in scikit-learn (about half a second): only extraction tasks pay for it.
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    has_any = any(t != "O" for seq in gold_tags + pred_tags for t in seq)
    if not has_any:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_type": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(
            gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    micro = report.get("micro avg", {})
    per_type = {
        name: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for name, v in report.items()
        if not name.endswith(" avg")
    }
    return {
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)),
        "per_type": per_type,
    }


def gold_tags(example: Example) -> list[str]:
    """IOB2 tags of an extraction example's words."""
    return spans_to_tags(word_offsets(example.text, example.tokens), example.entities or [])


def tags_of(example: Example, entities: list[dict]) -> list[str]:
    """IOB2 tags of the words of ``example`` for predicted entity dicts."""
    spans = [Span(e["start"], e["end"], e["label"]) for e in entities]
    return spans_to_tags(word_offsets(example.text, example.tokens), spans)
