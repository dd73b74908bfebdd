"""Confidence intervals, paired comparisons and the small-test warning: how sure a test score is."""

from __future__ import annotations

import json
import random

import pytest

from inference.engine.confidence import (
    bootstrap_interval,
    classification_outcomes,
    entity_set,
    paired_difference,
    set_outcomes,
    small_test_warning,
)
from inference.engine.evaluation import evaluate
from inference.engine.metrics import classification_metrics, extraction_metrics
from inference.engine.types import Example, Span


def _labels_outcomes(n: int, correct: int, labels=("a", "b", "c")) -> dict:
    gold = [labels[i % len(labels)] for i in range(n)]
    pred = [g if i < correct else labels[(labels.index(g) + 1) % len(labels)] for i, g in enumerate(gold)]
    return classification_outcomes(gold, pred, list(labels))


def test_the_interval_is_the_same_for_the_same_seed_and_holds_the_score():
    outcomes = _labels_outcomes(80, 60)
    first = bootstrap_interval(outcomes, "accuracy", seed=7)
    assert first == bootstrap_interval(outcomes, "accuracy", seed=7)
    assert first != bootstrap_interval(outcomes, "accuracy", seed=8)
    low, high = first
    assert low <= 0.75 <= high and high - low > 0.1  # 80 texts: about +-0.095 around 0.75
    wide = bootstrap_interval(_labels_outcomes(40, 30), "accuracy", seed=7)
    narrow = bootstrap_interval(_labels_outcomes(4000, 3000), "accuracy", seed=7)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 5
    assert bootstrap_interval(classification_outcomes([], [], ["a"]), "accuracy") is None


def test_macro_f1_interval_is_around_the_reported_macro_f1():
    rng = random.Random(0)
    labels = ["a", "b", "c", "d"]
    gold = [rng.choice(labels) for _ in range(300)]
    pred = [g if rng.random() < 0.7 else rng.choice(labels) for g in gold]
    macro = classification_metrics(gold, pred, labels)["macro_f1"]
    low, high = bootstrap_interval(classification_outcomes(gold, pred, labels), "macro_f1")
    assert low <= macro <= high and high - low < 0.2


def test_entity_counts_per_sentence_add_up_to_the_seqeval_f1():
    rng = random.Random(1)
    tags = ["O", "O", "O", "B-per", "I-per", "B-loc", "I-loc"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 9))] for _ in range(200)]
    pred = [[t if rng.random() < 0.8 else rng.choice(tags) for t in seq] for seq in gold]
    outcomes = set_outcomes([entity_set(g) for g in gold], [entity_set(p) for p in pred])
    low, high = bootstrap_interval(outcomes, "f1")
    assert low <= extraction_metrics(gold, pred)["f1"] <= high
    everything = paired_difference(outcomes, outcomes, "f1")
    assert everything["delta"] == 0 and everything["within_noise"]


def test_a_one_example_change_is_within_noise_and_a_large_one_is_not():
    before = _labels_outcomes(200, 150)
    one_more = _labels_outcomes(200, 151)
    many_more = _labels_outcomes(200, 190)
    close = paired_difference(before, one_more, "accuracy")
    assert close["delta"] == pytest.approx(0.005) and close["within_noise"]
    far = paired_difference(before, many_more, "accuracy")
    assert far["delta"] == pytest.approx(0.2) and not far["within_noise"] and far["interval"][0] > 0
    with pytest.raises(ValueError):
        paired_difference(before, _labels_outcomes(100, 50), "accuracy")


def test_small_test_sets_are_named_with_their_size():
    assert "40 test texts" in small_test_warning("classification", 40)
    assert "fewer than 100" in small_test_warning("classification", 99)
    assert small_test_warning("classification", 100) is None
    assert "30 test sentences" in small_test_warning("extraction", 30)
    assert small_test_warning("extraction", 50) is None
    assert small_test_warning("classification", None) is None


class _Predictor:
    threshold = 0.5

    def __init__(self, answers):
        self.answers = answers

    def predict(self, texts, *, top_k=None, tokens=None):
        return [self.answers[t] for t in texts]


def test_evaluation_stores_the_interval_the_row_outcomes_and_the_warning():
    test = [Example(text=f"t{i}", label="ab"[i % 2], split="test") for i in range(40)]
    answers = {ex.text: {"label": "a", "score": 0.9} for ex in test}
    report = evaluate(_Predictor(answers), test, task="classification", labels=["a", "b"])
    json.dumps(report)
    low, high = report["confidence_interval"]
    assert low <= report["accuracy"] == 0.5 <= high
    assert report["confidence"]["intervals"]["macro_f1"][0] <= report["macro_f1"]
    assert report["confidence"]["level"] == 0.95 and report["confidence"]["resamples"] == 1000
    assert len(report["outcomes"]["gold"]) == 40 and len(report["outcomes"]["rows"]) == 64
    assert "40 test texts" in report["small_test_warning"]
    again = evaluate(_Predictor(answers), test, task="classification", labels=["a", "b"])
    assert again["confidence_interval"] == report["confidence_interval"]


def test_extraction_evaluation_has_an_interval_over_sentences():
    text = "Alice met Bob in Paris"
    ex = Example(text=text, entities=[Span(0, 5, "person"), Span(17, 22, "location")], split="test")
    answer = {"entities": [{"start": 0, "end": 5, "label": "person", "text": "Alice", "score": 0.9}]}
    report = evaluate(_Predictor({text: answer}), [ex], task="extraction", labels=["person", "location"])
    assert report["outcomes"]["counts"] == [[1, 0, 1]]
    assert report["confidence_interval"] == [pytest.approx(report["f1"]), pytest.approx(report["f1"])]
    assert "1 test sentences" in report["small_test_warning"]


def test_labels_outside_the_models_labels_never_agree_and_stay_out_of_macro_f1():
    gold, pred, labels = ["a", "b", "x"], ["a", "y", "b"], ["a", "b"]
    outcomes = classification_outcomes(gold, pred, labels)
    assert outcomes["gold"][2] != outcomes["pred"][1]
    report = classification_metrics(gold, pred, labels)
    assert bootstrap_interval(outcomes, "accuracy", resamples=10)[0] <= report["accuracy"]
    low, high = bootstrap_interval(outcomes, "macro_f1", resamples=50)
    assert low <= report["macro_f1"] <= high
