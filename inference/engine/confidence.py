"""How sure a test score is: bootstrap confidence intervals, paired comparisons, small-set warnings.

A score on 60 test texts can move by ten points with a different draw of texts, so every evaluation
keeps, beside its headline figure, a 95% percentile-bootstrap interval (rows resampled with
replacement, a fixed seed, so the same predictions always give the same interval) and each test
row's outcome, compact enough to store. Two versions scored on the same rows are then compared
with a paired bootstrap (the same resampled rows for both), which sees through the noise that two
separate intervals cannot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0
# Below these sizes an interval is wide enough to matter; the pages and the API say so.
SMALL_TEST_SIZE = {"classification": 100, "multilabel": 100, "extraction": 50}
UNIT = {"classification": "texts", "multilabel": "texts", "extraction": "sentences"}
# Resamples drawn at once: bounds memory on big test sets (100 x 15,000 rows of int64 is 12 MB).
CHUNK = 100


def rows_fingerprint(rows: list) -> str:
    """SHA-256 of the test rows (text and gold answer) in order: equal means the same test rows."""
    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def classification_outcomes(gold: list[str], pred: list[str], labels: list[str]) -> dict:
    """Each test row's gold and predicted label as indices into ``labels``; a label outside them gets
    an index after them (so two different unknown labels never count as agreeing)."""
    index = {lab: i for i, lab in enumerate(labels)}
    for lab in [*gold, *pred]:
        index.setdefault(lab, len(index))
    return {
        "kind": "labels",
        "labels": len(labels),
        "gold": [index[g] for g in gold],
        "pred": [index[p] for p in pred],
    }


def set_outcomes(gold: list[set], pred: list[set]) -> dict:
    """Each row's true positives, false positives and false negatives (entities or labels)."""
    return {
        "kind": "counts",
        "counts": [[len(g & p), len(p - g), len(g - p)] for g, p in zip(gold, pred, strict=True)],
    }


def entity_set(tags: list[str]) -> set[tuple[int, int, str]]:
    """(first word, end word, type) of each entity, as seqeval's strict IOB2 mode (the F1) finds them."""
    from seqeval.scheme import IOB2, Entities

    if not tags:
        return set()
    return {(e.start, e.end, e.tag) for e in Entities([tags], IOB2).entities[0]}


def _size(outcomes: dict) -> int:
    return len(outcomes["gold"]) if outcomes["kind"] == "labels" else len(outcomes["counts"])


def _statistic(outcomes: dict, metric: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function from resampled row indices (resamples x rows) to the metric of each resample."""
    if outcomes["kind"] == "counts":
        counts = np.asarray(outcomes["counts"], dtype=np.int64).reshape(-1, 3)

        def f1(idx: np.ndarray) -> np.ndarray:
            tp, fp, fn = (counts[:, k][idx].sum(axis=1) for k in range(3))
            denom = 2 * tp + fp + fn
            return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)

        return f1
    gold = np.asarray(outcomes["gold"], dtype=np.int64)
    pred = np.asarray(outcomes["pred"], dtype=np.int64)
    if metric in ("accuracy", "micro_f1"):
        correct = (gold == pred).astype(float)
        return lambda idx: correct[idx].mean(axis=1)
    if metric == "macro_f1":
        size = int(max(gold.max(initial=0), pred.max(initial=0))) + 1
        known = int(outcomes.get("labels", size))  # macro-F1 averages over the model's labels only

        def macro(idx: np.ndarray) -> np.ndarray:
            out = np.empty(len(idx))
            for r, rows in enumerate(idx):
                g, p = gold[rows], pred[rows]
                tp = np.bincount(g[g == p], minlength=size)[:known]
                in_gold = np.bincount(g, minlength=size)[:known]
                in_pred = np.bincount(p, minlength=size)[:known]
                present = (in_gold + in_pred) > 0  # as classification_metrics: labels seen in gold or pred
                denom = in_gold + in_pred
                f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
                out[r] = f1[present].mean() if present.any() else 0.0
            return out

        return macro
    raise ValueError(f"no bootstrap statistic for {metric!r}")


def _resampled(statistic, n: int, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        values.append(statistic(idx))
    return np.concatenate(values)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    outcomes: dict, metric: str, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> list[float] | None:
    """[low, high]: the percentile bootstrap interval of ``metric`` over the test rows; None with no rows.

    Widened to hold the point estimate where it falls outside: a biased statistic such as macro-F1
    (a resample that misses a rare label scores lower) can put the whole percentile range below it.
    """
    n = _size(outcomes)
    if n == 0:
        return None
    statistic = _statistic(outcomes, metric)
    point = float(statistic(np.arange(n)[None, :])[0])
    low, high = _interval(_resampled(statistic, n, resamples, seed), level)
    return [min(low, point), max(high, point)]


def paired_difference(
    a: dict, b: dict, metric: str, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> dict:
    """B minus A on the same test rows: the difference, its bootstrap interval, and whether it is noise."""
    n = _size(a)
    if n == 0 or n != _size(b) or a["kind"] != b["kind"]:
        raise ValueError("a paired comparison needs the outcomes of the same test rows")
    stat_a, stat_b = _statistic(a, metric), _statistic(b, metric)
    everything = np.arange(n)[None, :]
    delta = float(stat_b(everything)[0] - stat_a(everything)[0])
    # The same resampled rows for both versions: that pairing is what removes the rows' own noise.
    low, high = _interval(_resampled(lambda idx: stat_b(idx) - stat_a(idx), n, resamples, seed), level)
    return {"delta": delta, "interval": [min(low, delta), max(high, delta)], "within_noise": low <= 0 <= high}


def small_test_warning(task: str, test_size: int | None) -> str | None:
    """The warning to show beside a score measured on too few test rows; None when there are enough."""
    minimum = SMALL_TEST_SIZE.get(task)
    if minimum is None or test_size is None or test_size >= minimum:
        return None
    unit = UNIT[task]
    return (
        f"Small test set: this score rests on {test_size} test {unit} (fewer than {minimum}), so it can "
        f"move by several points with other {unit}; read it with its confidence interval."
    )
