"""Holding out a test set when a version has none: seeded, stratified, near-duplicates on one side."""

from __future__ import annotations

from collections import Counter

import pytest

from inference.engine.holdout import (
    MIN_CARVED_TEST,
    EvaluationSplitError,
    evaluation_split,
)
from inference.engine.splits import near_duplicate_key
from inference.engine.types import Example, Span


def rows(counts: dict[str, int], split: str = "train") -> list[Example]:
    return [
        Example(text=f"{label} message number {i}", label=label, split=split)
        for label, n in counts.items()
        for i in range(n)
    ]


def held_out(split) -> set[str]:
    return {ex.text for ex in split.test}


def test_a_version_without_test_rows_is_judged_on_rows_held_out_from_training():
    split = evaluation_split(rows({"a": 40, "b": 40}), task="classification", seed=13)
    assert split.source == "carved"
    train = [ex for ex in split.examples if ex.split == "train"]
    assert len(split.test) == 12 and len(train) == 68  # 15% of 80
    assert not held_out(split) & {ex.text for ex in train}
    assert "12 examples held out" in split.statement and "seed 13" in split.statement
    assert split.summary()["test_source"] == "carved"


def test_same_seed_same_test_set_whatever_the_order_and_another_seed_another():
    examples = rows({"a": 40, "b": 40})
    first = held_out(evaluation_split(examples, task="classification", seed=5))
    assert first == held_out(evaluation_split(list(reversed(examples)), task="classification", seed=5))
    assert first != held_out(evaluation_split(examples, task="classification", seed=6))


def test_the_held_out_rows_keep_each_labels_share():
    split = evaluation_split(rows({"a": 200, "b": 100, "c": 20}), task="classification", seed=1)
    assert Counter(ex.label for ex in split.test) == {"a": 30, "b": 15, "c": 3}


def test_every_label_gets_a_test_example_and_keeps_two_to_learn_from():
    split = evaluation_split(rows({"big": 60, "tiny": 3}), task="classification", seed=1)
    tested = Counter(ex.label for ex in split.test)
    trained = Counter(ex.label for ex in split.examples)
    assert tested["tiny"] == 1 and trained["tiny"] == 2


def test_near_duplicates_stay_on_one_side():
    examples = rows({"a": 40, "b": 40})
    # Each text also appears shouting and punctuated: the pair must never be split apart.
    examples += [Example(text=ex.text.upper() + "!!", label=ex.label, split="train") for ex in examples]
    split = evaluation_split(examples, task="classification", seed=3)
    test_keys = {near_duplicate_key(ex.text) for ex in split.test}
    train_keys = {near_duplicate_key(ex.text) for ex in split.examples}
    assert test_keys and not test_keys & train_keys
    assert all(Counter(near_duplicate_key(ex.text) for ex in split.test)[k] == 2 for k in test_keys)


def test_near_duplicate_key_ignores_case_spacing_and_punctuation():
    assert near_duplicate_key("Where's   my CARD?") == near_duplicate_key("where s my card")
    assert near_duplicate_key("!!!") == "!!!"


def test_the_validation_split_is_untouched_and_a_given_split_is_used_first():
    examples = rows({"a": 40, "b": 40}) + rows({"a": 5, "b": 5}, split="validation")
    for ex in examples[-10:]:
        ex.text = "held " + ex.text
    split = evaluation_split(examples, task="classification", seed=13)
    validation = [ex for ex in split.examples if ex.split == "validation"]
    assert [ex.text for ex in validation] == [ex.text for ex in examples[-10:]]
    assert not {ex.text for ex in validation} & held_out(split)

    with_test = examples + rows({"a": 3, "b": 3}, split="test")
    given = evaluation_split(with_test, task="classification", seed=13)
    assert given.source == "test" and len(given.test) == 6


def test_evaluate_on_validation_is_stated_as_such():
    examples = rows({"a": 20, "b": 20}) + rows({"a": 4, "b": 4}, split="validation")
    split = evaluation_split(examples, task="classification", evaluate_on="validation")
    assert split.source == "validation" and len(split.test) == 8
    assert "validation split" in split.statement and "optimistic" in split.statement


def test_carved_on_request_leaves_the_given_test_split_out():
    examples = rows({"a": 40, "b": 40}) + [Example(text="odd one", label="a", split="test")]
    split = evaluation_split(examples, task="classification", evaluate_on="carved", seed=2)
    assert split.source == "carved" and "odd one" not in held_out(split)
    assert all(ex.text != "odd one" for ex in split.examples)
    assert "1 test example is not used" in split.statement


@pytest.mark.parametrize(
    ("counts", "needed"),
    [({"a": 6, "b": 5}, 14), ({"a": 30, "b": 2}, 14)],
)
def test_too_few_rows_are_refused_with_the_number_needed(counts, needed):
    with pytest.raises(EvaluationSplitError) as refused:
        evaluation_split(rows(counts), task="classification")
    assert refused.value.code == "not_enough_examples_to_evaluate"
    assert refused.value.details["needed"]["total"] == needed
    assert refused.value.details["needed"]["per_label"] == 3
    assert str(MIN_CARVED_TEST) in refused.value.message or "needs at least 3" in refused.value.message


def test_an_empty_chosen_split_is_refused():
    for choice in ("test", "validation"):
        with pytest.raises(EvaluationSplitError) as refused:
            evaluation_split(rows({"a": 40, "b": 40}), task="classification", evaluate_on=choice)
        assert refused.value.code == "evaluation_split_empty"


def test_extraction_holds_out_sentences_per_entity_type():
    sentences = []
    for i in range(30):
        label = "person" if i % 3 else "place"
        text = f"sentence {i} mentions Name{i}"
        start = text.index("Name")
        sentences.append(Example(text=text, entities=[Span(start, len(text), label)], split="train"))
    sentences += [Example(text=f"nothing here {i}", entities=[], split="train") for i in range(10)]
    split = evaluation_split(sentences, task="extraction", seed=4)
    types = Counter(span.label for ex in split.test for span in ex.entities or [])
    assert len(split.test) == MIN_CARVED_TEST and types["person"] >= 1 and types["place"] >= 1
    assert "10 sentences held out" in split.statement
