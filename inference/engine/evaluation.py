"""Test-set evaluation: metrics, a baseline to beat, latency, and every prediction for auditing.

``evaluate`` only ever calls ``predictor.predict`` so its answers are exactly what serving returns.
It predicts in chunks and calls the caller's ``check_stop`` between them (and between its steps,
and every half second while the baseline trains), so a cancelled or out-of-time job stops within
a chunk. The metrics themselves are in ``metrics.py``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
from seqeval.scheme import IOB2, Entities

from .baseline import NAMES as BASELINE_NAMES
from .baseline import train_baseline
from .confidence import (
    LEVEL,
    RESAMPLES,
    SEED,
    UNIT,
    bootstrap_interval,
    classification_outcomes,
    entity_set,
    rows_fingerprint,
    set_outcomes,
    small_test_warning,
)
from .metrics import (
    HEADLINE_METRIC,
    best_threshold,
    classification_metrics,
    extraction_metrics,
    gold_tags,
    multilabel_metrics,
    tags_of,
)
from .types import Example
from .words import word_offsets

MAX_MISCLASSIFIED = 200
MAX_MISSED = 100
LATENCY_SAMPLES = 20
# Texts predicted between two stop checks: a few seconds at most on CPU, even for a full model.
EVAL_CHUNK = 256
# How often the caller's stop check runs while the baseline trains (which cannot pause itself).
STOP_POLL_SECONDS = 0.5


def predict_in_chunks(
    predictor, texts: list[str], check_stop: Callable[[], None] | None = None, **options
) -> list[dict]:
    """``predictor.predict`` over ``texts``, ``EVAL_CHUNK`` at a time, calling ``check_stop`` before each."""
    answers: list[dict] = []
    for k in range(0, len(texts), EVAL_CHUNK):
        if check_stop is not None:
            check_stop()
        answers += predictor.predict(texts[k : k + EVAL_CHUNK], **options)
    return answers


def _latency_ms(predictor, examples: list[Example], task: str) -> float | None:
    """Median wall time of predicting ONE text, over up to 20 texts (after one warm-up call)."""
    sample = examples[:LATENCY_SAMPLES]
    if not sample:
        return None

    def one(ex: Example):
        predictor.predict([ex.text])

    one(sample[0])
    times = []
    for ex in sample:
        start = time.perf_counter()
        one(ex)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _sequence_section(task, gold, pred, labels) -> dict:
    if task == "classification":
        return classification_metrics(gold, pred, labels)
    return multilabel_metrics(gold, pred, labels)


def _baseline(task, labels, train, validation, test) -> dict | None:
    """Baseline metrics on the test set (its multilabel threshold is chosen on validation, like the model's)."""
    if not train:
        return None
    base = train_baseline(task, labels, train)
    if task == "extraction":
        pred_tags = [tags_of(ex, base.predict(ex)) for ex in test]
        m = extraction_metrics([gold_tags(ex) for ex in test], pred_tags)
        main = {k: m[k] for k in ("precision", "recall", "f1")}
    else:
        scores = base.scores([ex.text for ex in test])
        if task == "classification":
            pred = [labels[i] for i in scores.argmax(axis=1)]
            m = classification_metrics([ex.label for ex in test], pred, labels)
            main = {k: m[k] for k in ("accuracy", "macro_f1", "micro_f1")}
        else:
            threshold = 0.5
            if validation:
                threshold, _ = best_threshold(
                    [ex.labels or [] for ex in validation],
                    base.scores([ex.text for ex in validation]),
                    labels,
                )
            pred = [[lab for lab, s in zip(labels, row, strict=True) if s >= threshold] for row in scores]
            m = multilabel_metrics([ex.labels or [] for ex in test], pred, labels)
            main = {k: m[k] for k in ("micro_f1", "macro_f1", "subset_accuracy")} | {"threshold": threshold}
    name = HEADLINE_METRIC[task]
    return {"name": BASELINE_NAMES[task], "headline": {"name": name, "value": m[name]}, **main}


def _stoppable(work: Callable[[], object], stop: Callable[[], None]):
    """``work()``, run in a daemon thread while this one calls ``stop`` every STOP_POLL_SECONDS.

    The baseline's fit (scikit-learn) cannot be interrupted and takes tens of seconds on a big
    split, so cancel and the time budget are honoured by abandoning it: when ``stop`` raises, the
    thread is left to finish on its own and its result is dropped.
    """
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="evaluation-baseline")
    thread.start()
    while True:
        thread.join(STOP_POLL_SECONDS)
        if not thread.is_alive():
            break
        stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def evaluate(
    predictor,
    test_examples: list[Example],
    *,
    task: str,
    labels: list[str],
    train_examples: list[Example] | None = None,
    validation_examples: list[Example] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> dict:
    """Score ``predictor`` on the test examples; a JSON-serialisable report (see module docstring).

    ``check_stop`` is called between chunks and steps; it ends the evaluation by raising.
    """
    stop = check_stop or (lambda: None)
    test = list(test_examples)
    texts = [ex.text for ex in test]
    result: dict = {"task": task, "test_size": len(test)}
    if task == "extraction":
        # Predict from the raw text, exactly as a client calling the API would; the predicted spans
        # are then scored against the gold words, so the figure is what users get.
        answers = predict_in_chunks(predictor, texts, stop)
        predictions = [{"entities": a["entities"]} for a in answers]
        pred_tags = [tags_of(ex, p["entities"]) for ex, p in zip(test, predictions, strict=True)]
        gold = [gold_tags(ex) for ex in test]
        result.update(extraction_metrics(gold, pred_tags))
        result.update(_missed_spurious(test, gold, pred_tags))
        outcomes = set_outcomes([entity_set(g) for g in gold], [entity_set(p) for p in pred_tags])
    elif task == "classification":
        answers = predict_in_chunks(predictor, texts, stop, top_k=1)
        predictions = [{"label": a["label"], "score": a["score"]} for a in answers]
        gold = [ex.label for ex in test]
        result.update(_sequence_section(task, gold, [p["label"] for p in predictions], labels))
        outcomes = classification_outcomes(gold, [p["label"] for p in predictions], labels)
        result["misclassified"] = [
            {"text": ex.text, "label": ex.label, "predicted": p["label"], "score": p["score"]}
            for ex, p in zip(test, predictions, strict=True)
            if ex.label != p["label"]
        ][:MAX_MISCLASSIFIED]
    elif task == "multilabel":
        answers = predict_in_chunks(predictor, texts, stop)
        predictions = [{"labels": [x["label"] for x in a["labels"]], "scores": a["scores"]} for a in answers]
        gold = [ex.labels or [] for ex in test]
        result.update(_sequence_section(task, gold, [p["labels"] for p in predictions], labels))
        result["threshold"] = predictor.threshold
        known = set(labels)  # as multilabel_metrics, which counts only the model's labels
        outcomes = set_outcomes(
            [set(g) & known for g in gold], [set(p["labels"]) & known for p in predictions]
        )
    else:
        raise ValueError(f"unknown task {task!r}")
    name = HEADLINE_METRIC[task]
    result["headline"] = {"name": name, "value": result[name]}
    result.update(_uncertainty(task, name, outcomes, test, gold))
    stop()
    baseline = _stoppable(
        lambda: _baseline(task, labels, list(train_examples or []), list(validation_examples or []), test),
        stop,
    )
    result["baseline"] = baseline
    result["lift"] = (result[name] - baseline["headline"]["value"]) if baseline else None
    stop()
    result["latency_ms_p50"] = _latency_ms(predictor, test, task)
    result["predictions"] = predictions
    return _jsonable(result)


def _uncertainty(task: str, name: str, outcomes: dict, test: list[Example], gold: list) -> dict:
    """The headline's bootstrap interval (macro-F1's too for classification), the per-row outcomes
    that a paired comparison of two versions needs, and the small-test-set warning."""
    intervals = {name: bootstrap_interval(outcomes, name)}
    if task == "classification":
        intervals["macro_f1"] = bootstrap_interval(outcomes, "macro_f1")
    return {
        "confidence_interval": intervals[name],
        "confidence": {
            "level": LEVEL,
            "method": f"percentile bootstrap over test {UNIT[task]}",
            "resamples": RESAMPLES,
            "seed": SEED,
            "intervals": intervals,
        },
        # The fingerprint of the rows (text and gold answer, in order) tells whether two versions
        # were scored on the same rows, and so may be compared row by row.
        "outcomes": outcomes
        | {"rows": rows_fingerprint([[ex.text, g] for ex, g in zip(test, gold, strict=True)])},
        "small_test_warning": small_test_warning(task, len(test)),
    }


def _missed_spurious(test: list[Example], gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Gold entities the model did not return, and returned entities that are not gold, as the F1
    counts them: whole words (the runtime's segmentation), so a span inside a word that the F1
    scores as correct is listed as neither."""
    missed, spurious = [], []
    for ex, gold_seq, pred_seq in zip(test, gold, pred, strict=True):
        offsets = word_offsets(ex.text, ex.tokens)
        expected, got = _word_entities(offsets, gold_seq), _word_entities(offsets, pred_seq)
        for listing, spans in ((missed, expected - got), (spurious, got - expected)):
            for start, end, label in sorted(spans):
                listing.append(
                    {
                        "text": ex.text,
                        "entity": {"start": start, "end": end, "label": label, "text": ex.text[start:end]},
                    }
                )
    return {"missed": missed[:MAX_MISSED], "spurious": spurious[:MAX_MISSED]}


def _word_entities(offsets: list[tuple[int, int]], tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) of each entity seqeval's strict IOB2 mode finds in ``tags``, in characters."""
    if not tags:
        return set()
    return {(offsets[e.start][0], offsets[e.end - 1][1], e.tag) for e in Entities([tags], IOB2).entities[0]}


def _jsonable(value):
    """Plain Python numbers, lists and dicts only (numpy and torch scalars sneak in otherwise)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return value
