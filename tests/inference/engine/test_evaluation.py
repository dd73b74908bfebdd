"""evaluate(): every reported metric can be recomputed from the predictions it returns."""

from __future__ import annotations

import json
import time

import pytest
from seqeval.metrics import f1_score as seq_f1
from seqeval.metrics import precision_score as seq_precision
from seqeval.metrics import recall_score as seq_recall
from seqeval.scheme import IOB2
from sklearn.metrics import f1_score

from inference.engine.basemodels import default_base_model_dir
from inference.engine.evaluation import EVAL_CHUNK, evaluate
from inference.engine.metrics import extraction_metrics
from inference.engine.serving.torch_predictor import predictor_from_trained
from inference.engine.training import TrainingSession
from inference.engine.types import Example, Span
from inference.engine.words import spans_to_tags, word_offsets

from .conftest import WNUT_TYPES, trained


def _train(examples, task, labels, method, hp):
    session = TrainingSession(
        examples,
        task=task,
        labels=labels,
        base_model_dir=default_base_model_dir(),
        method=method,
        hyperparameters=hp,
    )
    for _ in session.run():
        pass
    return predictor_from_trained(session.trained)


def _splits(examples):
    return {s: [e for e in examples if e.split == s] for s in ("train", "validation", "test")}


def test_classification_report_recomputes(bank):
    examples, labels = bank
    parts = _splits(examples)
    predictor = predictor_from_trained(trained("cls-head"))
    report = evaluate(
        predictor,
        parts["test"],
        task="classification",
        labels=labels,
        train_examples=parts["train"],
        validation_examples=parts["validation"],
    )
    json.dumps(report)  # the dashboard stores it as JSON
    preds = report["predictions"]
    assert len(preds) == report["test_size"] == len(parts["test"])
    gold = [e.label for e in parts["test"]]
    got = [p["label"] for p in preds]
    assert report["accuracy"] == pytest.approx(
        sum(g == p for g, p in zip(gold, got, strict=True)) / len(gold)
    )
    assert report["macro_f1"] == pytest.approx(f1_score(gold, got, average="macro"))
    assert report["headline"] == {"name": "accuracy", "value": report["accuracy"]}
    assert sum(map(sum, report["confusion_matrix"]["matrix"])) == len(gold)
    assert sum(v["support"] for v in report["per_label"].values()) == len(gold)
    assert len(report["misclassified"]) == sum(g != p for g, p in zip(gold, got, strict=True))
    base = report["baseline"]
    assert base["name"] == "tfidf_logreg" and 0 <= base["accuracy"] <= 1
    assert report["lift"] == pytest.approx(report["accuracy"] - base["headline"]["value"])
    assert report["latency_ms_p50"] > 0
    # Serving answers are the evaluation answers.
    assert [a["label"] for a in predictor.predict([e.text for e in parts["test"]])] == got


class StubPredictor:
    """Returns fixed answers, so expected metrics can be worked out by hand."""

    def __init__(self, task, answers, threshold=0.5):
        self.task, self.answers, self.threshold = task, answers, threshold

    def predict(self, texts, *, top_k=None, tokens=None):
        return [self.answers[t] for t in texts]


def test_classification_metrics_by_hand():
    test = [Example(text=f"t{i}", label=lab, split="test") for i, lab in enumerate("aabb")]
    answers = {"t0": "a", "t1": "b", "t2": "b", "t3": "b"}
    stub = StubPredictor(
        "classification", {t: {"label": lab, "score": 0.9, "labels": []} for t, lab in answers.items()}
    )
    report = evaluate(stub, test, task="classification", labels=["a", "b"])
    assert report["accuracy"] == 0.75
    assert report["per_label"]["a"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert report["confusion_matrix"]["matrix"] == [[1, 1], [0, 2]]
    assert report["most_confused"] == [{"true": "a", "predicted": "b", "count": 1}]
    assert report["baseline"] is None and report["lift"] is None


def test_multilabel_report_recomputes(bank):
    examples, labels = bank
    # Pairs of texts from two intents make a two-label example.
    chosen = labels[:4]
    by = {lab: [e for e in examples if e.label == lab] for lab in chosen}
    multi = []
    for i in range(12):
        a, b = chosen[i % 4], chosen[(i + 1 + i // 4) % 4]
        for lab, src in ((a, by[a][i]), (b, by[b][i])):
            multi.append(Example(text=src.text, labels=[lab], split=src.split))
        multi.append(
            Example(text=f"{by[a][i].text} {by[b][i].text}", labels=sorted({a, b}), split=by[a][i].split)
        )
    parts = _splits(multi)
    predictor = _train(multi, "multilabel", chosen, "head", {"max_length": 64})
    report = evaluate(
        predictor,
        parts["test"],
        task="multilabel",
        labels=chosen,
        train_examples=parts["train"],
        validation_examples=parts["validation"],
    )
    json.dumps(report)
    assert report["threshold"] == predictor.threshold
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=chosen)
    gold = mlb.fit_transform([e.labels for e in parts["test"]])
    got = mlb.transform([p["labels"] for p in report["predictions"]])
    assert report["micro_f1"] == pytest.approx(f1_score(gold, got, average="micro", zero_division=0))
    assert report["subset_accuracy"] == pytest.approx(
        sum((g == p).all() for g, p in zip(gold, got, strict=True)) / len(gold)
    )
    for p in report["predictions"]:
        assert set(p["labels"]) == {lab for lab, s in p["scores"].items() if s >= report["threshold"]}
    assert report["baseline"]["name"] == "tfidf_logreg_one_vs_rest"
    assert report["headline"]["name"] == "micro_f1"


def test_extraction_report_recomputes_with_seqeval(ner):
    parts = _splits(ner)
    predictor = predictor_from_trained(trained("ner-full"))
    report = evaluate(
        predictor,
        parts["test"],
        task="extraction",
        labels=WNUT_TYPES,
        train_examples=parts["train"],
        validation_examples=parts["validation"],
    )
    json.dumps(report)
    gold, pred = [], []
    for ex, p in zip(parts["test"], report["predictions"], strict=True):
        offsets = word_offsets(ex.text, ex.tokens)
        for ent in p["entities"]:
            assert ex.text[ent["start"] : ent["end"]] == ent["text"] and 0 <= ent["score"] <= 1
        gold.append(spans_to_tags(offsets, ex.entities))
        pred.append(spans_to_tags(offsets, [Span(e["start"], e["end"], e["label"]) for e in p["entities"]]))
    assert report["f1"] == pytest.approx(seq_f1(gold, pred, mode="strict", scheme=IOB2, zero_division=0))
    assert report["precision"] == pytest.approx(
        seq_precision(gold, pred, mode="strict", scheme=IOB2, zero_division=0)
    )
    assert report["recall"] == pytest.approx(
        seq_recall(gold, pred, mode="strict", scheme=IOB2, zero_division=0)
    )
    assert report["baseline"]["name"] == "most_frequent_tag_per_word"
    n_gold = sum(len(e.entities) for e in parts["test"])
    assert len(report["missed"]) <= n_gold


def test_extraction_metrics_by_hand():
    text = "Alice met Bob in Paris"
    ex = Example(
        text=text,
        entities=[Span(0, 5, "person"), Span(10, 13, "person"), Span(17, 22, "location")],
        split="test",
    )
    answers = {
        text: {
            "entities": [
                {"start": 0, "end": 5, "label": "person", "text": "Alice", "score": 0.9},
                {"start": 17, "end": 22, "label": "person", "text": "Paris", "score": 0.6},
            ]
        }
    }
    report = evaluate(
        StubPredictor("extraction", answers), [ex], task="extraction", labels=["person", "location"]
    )
    assert report["precision"] == 0.5 and report["recall"] == pytest.approx(1 / 3)
    assert report["per_type"]["person"]["support"] == 2
    assert {m["entity"]["text"] for m in report["missed"]} == {"Bob", "Paris"}
    assert [s["entity"]["label"] for s in report["spurious"]] == ["person"]
    assert extraction_metrics([["O"]], [["O"]])["f1"] == 0.0


def test_missed_and_spurious_entities_are_whole_words_as_the_f1_counts_them():
    # The gold span covers part of a word; the model returns the whole word: the F1 scores that
    # as correct, so it is neither missed nor spurious.
    text = "Flights to New-York and Paris"
    ex = Example(text=text, entities=[Span(15, 19, "location"), Span(24, 29, "location")], split="test")
    answers = {
        text: {
            "entities": [
                {"start": 11, "end": 19, "label": "location", "text": "New-York", "score": 0.9},
                {"start": 24, "end": 26, "label": "person", "text": "Pa", "score": 0.6},
            ]
        }
    }
    report = evaluate(
        StubPredictor("extraction", answers), [ex], task="extraction", labels=["location", "person"]
    )
    assert report["precision"] == 0.5 and report["recall"] == 0.5
    assert report["missed"] == [
        {"text": text, "entity": {"start": 24, "end": 29, "label": "location", "text": "Paris"}}
    ]
    assert report["spurious"] == [
        {"text": text, "entity": {"start": 24, "end": 29, "label": "person", "text": "Paris"}}
    ]


class _Stop(Exception):
    pass


class _CountingPredictor:
    """Answers "a" to everything, counting how many texts it was asked about."""

    runtime = "fake"

    def __init__(self):
        self.texts = 0

    def predict(self, texts, top_k=None):
        self.texts += len(texts)
        return [{"label": "a", "score": 0.9, "labels": [{"label": "a", "score": 0.9}]} for _ in texts]


def _many_test_examples(n: int) -> list[Example]:
    return [Example(text=f"text {i}", label="ab"[i % 2], split="test") for i in range(n)]


def test_evaluation_predicts_in_chunks_and_stops_within_one_when_the_caller_says_so():
    test = _many_test_examples(EVAL_CHUNK * 4)
    predictor = _CountingPredictor()
    report = evaluate(predictor, test, task="classification", labels=["a", "b"], check_stop=lambda: None)
    assert report["accuracy"] == 0.5 and len(report["predictions"]) == len(test)

    predictor = _CountingPredictor()

    def cancelled_after_the_first_chunk():
        if predictor.texts:
            raise _Stop

    with pytest.raises(_Stop):
        evaluate(
            predictor,
            test,
            task="classification",
            labels=["a", "b"],
            train_examples=[Example(text="x", label="a", split="train")],
            check_stop=cancelled_after_the_first_chunk,
        )
    assert predictor.texts == EVAL_CHUNK  # three quarters of the test split never ran


def test_evaluation_checks_before_the_baseline_and_the_latency_probe():
    calls = []
    evaluate(
        _CountingPredictor(),
        _many_test_examples(10),
        task="classification",
        labels=["a", "b"],
        check_stop=lambda: calls.append(1),
    )
    assert len(calls) == 3  # one chunk of predictions, then the baseline, then the latency probe


def test_a_stop_while_the_baseline_trains_takes_effect_at_the_next_poll(monkeypatch):
    from inference.engine import evaluation

    train_baseline = evaluation.train_baseline

    def slow_baseline(*args, **kwargs):
        time.sleep(10)  # a big split: the real fit ran 20 s on banking77
        return train_baseline(*args, **kwargs)

    monkeypatch.setattr(evaluation, "train_baseline", slow_baseline)
    started = time.monotonic()

    def cancelled_after_a_second():
        if time.monotonic() - started > 1.0:
            raise _Stop

    with pytest.raises(_Stop):
        evaluate(
            _CountingPredictor(),
            _many_test_examples(10),
            task="classification",
            labels=["a", "b"],
            train_examples=[Example(text="x", label="a", split="train")],
            check_stop=cancelled_after_a_second,
        )
    # One second until the stop, then at most one poll interval (with slack for a busy machine).
    assert time.monotonic() - started < 2.0


def test_a_baseline_that_fails_fails_the_evaluation(monkeypatch):
    from inference.engine import evaluation

    def broken_baseline(*args, **kwargs):
        raise MemoryError("no room for the vocabulary")

    monkeypatch.setattr(evaluation, "train_baseline", broken_baseline)
    with pytest.raises(MemoryError, match="vocabulary"):
        evaluate(
            _CountingPredictor(),
            _many_test_examples(10),
            task="classification",
            labels=["a", "b"],
            train_examples=[Example(text="x", label="a", split="train")],
        )
