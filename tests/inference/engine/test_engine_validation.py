"""Dataset-level findings and label-set checks."""

from __future__ import annotations

from inference.engine.types import Example, Span
from inference.engine.validation import dedupe, findings, label_set_errors


def ex(text, label, split="train", line=None):
    return Example(text=text, label=label, split=split, line=line)


def by_code(found, code):
    return [f for f in found if f.code == code]


def balanced(n=10, labels=("a", "b")):
    return [ex(f"{label} text {i}", label) for label in labels for i in range(n)] + [
        ex(f"{label} held {i}", label, split)
        for label in labels
        for split in ("validation", "test")
        for i in range(2)
    ]


def test_clean_dataset_has_only_imbalance_info():
    found = findings(balanced(), "classification")
    assert [(f.code, f.severity) for f in found] == [("class_imbalance", "info")]
    assert found[0].details == {"ratio": 1.0, "largest": "b", "smallest": "a"}


def test_dedupe_keeps_first_and_respects_split_and_annotation():
    rows = [ex("hi", "a", line=2), ex("hi", "a", line=3), ex("hi", "a", "test"), ex("hi", "b")]
    kept, dropped = dedupe(rows)
    assert dropped == 1 and [r.line for r in kept[:1]] == [2] and len(kept) == 3
    multi = [Example(text="x", labels=["a", "b"]), Example(text="x", labels=["b", "a"])]
    assert dedupe(multi)[1] == 1
    ents = [Example(text="Ada", entities=[Span(0, 3, "p")]), Example(text="Ada", entities=[Span(0, 3, "q")])]
    assert dedupe(ents)[1] == 0


def test_duplicates_dropped_finding():
    found = by_code(findings(balanced() + [ex("a text 0", "a")], "classification"), "duplicates_dropped")
    assert found[0].severity == "info" and found[0].count == 1 and "removed" in found[0].message


def test_conflicting_labels_lists_lines():
    rows = balanced() + [ex("Where is my card?", "a", line=7), ex("where is my  card?", "b", line=9)]
    (conflict,) = by_code(findings(rows, "classification"), "conflicting_labels")
    assert conflict.severity == "warning" and conflict.count == 1
    assert "line 7 says 'a'" in conflict.message and "line 9 says 'b'" in conflict.message
    assert conflict.details["examples"][0]["labels"] == [
        {"label": "a", "lines": [7]},
        {"label": "b", "lines": [9]},
    ]


def test_rare_and_too_few_examples():
    rows = balanced() + [ex(f"rare {i}", "card_arrival") for i in range(2)] + [ex("lonely", "solo")]
    found = findings(rows, "classification")
    (rare,) = by_code(found, "rare_label")
    assert rare.severity == "warning" and "add at least 3 more" in rare.message.lower()
    assert "'card_arrival'" in rare.message and rare.details == {
        "label": "card_arrival",
        "train": 2,
        "needed": 3,
    }
    (too_few,) = by_code(found, "too_few_examples")
    assert too_few.severity == "error" and "'solo'" in too_few.message and "refused" in too_few.message
    assert "Add at least 1 more" in too_few.message


def test_label_only_in_test_has_zero_training_examples():
    found = findings(balanced() + [ex("ghost", "c", "test")], "classification")
    assert by_code(found, "too_few_examples")[0].details["train"] == 0


def test_class_imbalance_warning():
    rows = [ex(f"a{i}", "a") for i in range(110)] + [ex(f"b{i}", "b") for i in range(10)]
    (imbalance,) = by_code(findings(rows, "classification"), "class_imbalance")
    assert imbalance.severity == "warning"
    assert imbalance.details == {"ratio": 11.0, "largest": "a", "smallest": "b"}


def test_train_test_leakage():
    rows = balanced() + [ex("A TEXT 1", "a", "test", line=40), ex("b text 2", "b", "validation", line=41)]
    (leak,) = by_code(findings(rows, "classification"), "train_test_leakage")
    assert leak.count == 2 and leak.details["test"] == 1 and leak.details["validation"] == 1
    assert leak.details["examples"][0]["line"] == 40 and "look better" in leak.message


def test_empty_splits():
    rows = [ex(f"{label}{i}", label) for label in "ab" for i in range(10)]
    found = findings(rows, "classification")
    assert [f.details["split"] for f in by_code(found, "empty_split")] == ["validation"]
    # No test rows is normal: training holds out a test set from the training rows.
    (no_test,) = by_code(found, "no_test_split")
    assert no_test.severity == "info" and "holds out 15% of the training rows" in no_test.message
    only_test = findings(
        [ex(f"{label}{i}", label, "test") for label in "ab" for i in range(3)], "classification"
    )
    assert any(f.code == "empty_split" and f.severity == "error" for f in only_test)
    # Before splitting (rows without a split) the check does not apply.
    unsplit = [ex(f"{label}{i}", label, None) for label in "ab" for i in range(10)]
    assert not by_code(findings(unsplit, "classification"), "no_test_split")


def test_single_label_and_empty_dataset_are_errors():
    assert (
        by_code(findings([ex("x", "a"), ex("y", "a")], "classification"), "too_few_labels")[0].severity
        == "error"
    )
    assert findings([], "classification")[0].code == "no_examples"


def test_extraction_counts_examples_per_entity_type():
    # 3 examples with two people each: 6 mentions, but only 3 examples of 'person'.
    rows = [
        Example(
            text=f"Ada and Bob {i}", entities=[Span(0, 3, "person"), Span(8, 11, "person")], split="train"
        )
        for i in range(3)
    ] + [Example(text=f"Paris {i}", entities=[Span(0, 5, "location")], split="train") for i in range(6)]
    rows.append(Example(text="Acme", entities=[Span(0, 4, "corporation")], split="train"))
    found = findings(rows, "extraction")
    (rare,) = by_code(found, "rare_label")
    assert rare.details == {"label": "person", "train": 3, "needed": 2}
    assert "'person' entity" in rare.message
    assert by_code(found, "too_few_examples")[0].details == {"label": "corporation", "train": 1, "needed": 1}
    assert findings([Example(text="x", entities=[])], "extraction")[0].code == "too_few_labels"


def test_multilabel_counts_each_label():
    rows = [Example(text=f"t{i}", labels=["a", "b"] if i < 3 else ["a"], split="train") for i in range(8)]
    found = findings(rows, "multilabel")
    (rare,) = by_code(found, "rare_label")
    assert rare.details == {"label": "b", "train": 3, "needed": 2}


def test_label_set_errors():
    rows = [ex("x", "card_arrival", line=2), ex("y", "card_arival", line=3)]
    assert label_set_errors(rows, "classification", None) == []
    (error,) = label_set_errors(rows, "classification", ["card_arrival", "card_linking"])
    assert error.line == 3 and error.code == "unknown_label"
    assert "'card_arival'" in error.message and "did you mean 'card_arrival'" in error.message
    assert "'card_arrival', 'card_linking'" in error.message
    ents = [Example(text="Ada", entities=[Span(0, 3, "human")], line=5)]
    assert "'human'" in label_set_errors(ents, "extraction", ["person"])[0].message


def test_conflicting_entities_quote_two_annotations_that_really_differ():
    # Given WNUT's case: "Kishan" and "kishan" marked person (the same answer), then "Kishan" location
    def row(text, label, line):
        start = text.casefold().index("kishan")
        return Example(text=text, entities=[Span(start, start + 6, label)], split="train", line=line)

    rows = [
        row("Where ' s Kishan ?", "person", 3243),
        row("where ' s kishan ?", "person", 11404),
        row("Where ' s  Kishan ?", "location", 15421),
    ]
    rows += [Example(text=f"{p} {i}", entities=[Span(0, 1, p)]) for p in ("p", "q") for i in range(5)]

    (conflict,) = by_code(findings(rows, "extraction"), "conflicting_labels")

    assert "line 3243 says 'Kishan (person)' and line 15421 says 'Kishan (location)'" in conflict.message
    assert conflict.details["examples"][0]["labels"] == [
        {"label": "Kishan (person)", "lines": [3243, 11404]},
        {"label": "Kishan (location)", "lines": [15421]},
    ]


def test_one_text_is_written_in_the_singular():
    rows = balanced() + [ex("Where is my card?", "a", line=7), ex("where is my  card?", "b", line=9)]
    (conflict,) = by_code(findings(rows, "classification"), "conflicting_labels")
    assert conflict.message.startswith("1 text appears more than once")
    rows = balanced() + [ex("A TEXT 1", "a", "test", line=40)]
    (leak,) = by_code(findings(rows, "classification"), "train_test_leakage")
    assert leak.message.startswith("1 text in the test or validation set also appears in the training set")


def test_an_entity_covering_part_of_a_word_is_warned_about_with_what_will_be_learned():
    rows = [
        Example(text="I love Paris.", entities=[Span(7, 12, "LOC")], line=2),
        Example(text="A Berlin-based band", entities=[Span(2, 8, "LOC")], line=3),
        Example(text="NewYork rocks", entities=[Span(0, 3, "LOC")], line=4),
    ]
    [warning] = by_code(findings(rows, "extraction"), "partial_word_entities")
    assert warning.severity == "warning" and warning.count == 2
    assert warning.message == (
        "2 entities cover only part of a word; for example 'Berlin' (line 3) covers part of the word "
        "'Berlin-based'; the model learns whole words, so it will be trained as 'Berlin-based'. Mark whole "
        "words, or separate the entity from the rest of the word in the text."
    )
    assert warning.details["examples"][1] == {"line": 4, "entity": "New", "trained_as": "NewYork"}


def test_whole_word_entities_and_pre_tokenised_rows_are_not_warned_about():
    rows = [
        Example(text="I love Paris.", entities=[Span(7, 12, "LOC")]),
        Example(text="Berlin - based", tokens=["Berlin", "-", "based"], entities=[Span(0, 6, "LOC")]),
    ]
    assert by_code(findings(rows, "extraction"), "partial_word_entities") == []


def test_no_test_rows_and_too_few_to_hold_out_is_a_warning_with_the_numbers_needed():
    rows = [
        ex(f"{label}{i}", label, split)
        for label in "ab"
        for i, split in enumerate(["train"] * 5 + ["validation"])
    ]
    (no_test,) = by_code(findings(rows, "classification"), "no_test_split")
    assert no_test.severity == "warning"
    assert "at least 14 distinct examples" in no_test.message and no_test.details["needed"]["total"] == 14
