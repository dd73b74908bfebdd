"""assign_splits: seeded, stratified, keeps given splits, never starves train."""

from __future__ import annotations

import subprocess
import sys

import pytest

from inference.engine.splits import assign_splits, label_counts, split_counts
from inference.engine.types import Example, Span
from tests.support import REPO


def classification(counts: dict[str, int], split: str | None = None) -> list[Example]:
    return [
        Example(text=f"{label} {i}", label=label, split=split)
        for label, n in counts.items()
        for i in range(n)
    ]


def test_counts_and_stratification():
    examples = assign_splits(classification({"a": 100, "b": 50, "c": 10}))
    assert split_counts(examples) == {"train": 128, "validation": 16, "test": 16}
    assert label_counts(examples, "classification") == {
        "train": {"a": 80, "b": 40, "c": 8},
        "validation": {"a": 10, "b": 5, "c": 1},
        "test": {"a": 10, "b": 5, "c": 1},
    }


@pytest.mark.parametrize(("n", "held_out"), [(1, 0), (2, 0), (4, 0), (5, 1), (15, 2)])
def test_small_classes_keep_train(n, held_out):
    counts = split_counts(assign_splits(classification({"a": n})))
    assert counts["train"] >= 1
    assert counts["validation"] == counts["test"] == held_out


def test_extreme_ratios_never_leave_train_empty():
    counts = split_counts(assign_splits(classification({"a": 2, "b": 3}), ratios=(0.1, 0.45, 0.45)))
    assert counts["train"] == 2 and counts["validation"] + counts["test"] == 3


def test_given_splits_are_kept_and_official_test_gets_no_new_rows():
    official = [Example(text=f"official {i}", label="ab"[i % 2], split="test") for i in range(10)]
    unsplit = classification({"a": 40, "b": 40})
    result = assign_splits(official + unsplit)
    assert [e.split for e in result[:10]] == ["test"] * 10
    assert split_counts(result) == {"train": 72, "validation": 8, "test": 10}
    assert all(e.split is None for e in unsplit), "inputs are not modified"


def test_deterministic_and_order_independent_by_content():
    examples = classification({"a": 30, "b": 30})
    first = {e.text: e.split for e in assign_splits(examples, seed=5)}
    again = {e.text: e.split for e in assign_splits(list(reversed(examples)), seed=5)}
    assert first == again
    assert first != {e.text: e.split for e in assign_splits(examples, seed=6)}


def test_independent_of_python_hash_seed():
    script = (
        "from inference.engine.splits import assign_splits\n"
        "from inference.engine.types import Example\n"
        "ex = [Example(text=f't{i}', labels=[str(i % 7), str(i % 3)]) for i in range(200)]\n"
        "print(''.join(e.split[0] for e in assign_splits(ex, task='multilabel')))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_extraction_stratifies_by_entity_presence_and_type():
    examples = [Example(text=f"p{i}", entities=[Span(0, 1, "person")]) for i in range(20)]
    examples += [Example(text=f"none{i}", entities=[]) for i in range(20)]
    result = assign_splits(examples, task="extraction")
    with_entities = [e.split for e in result if e.entities]
    without = [e.split for e in result if not e.entities]
    assert with_entities.count("test") == without.count("test") == 2
    assert label_counts(result, "extraction")["train"] == {"person": 16}


def test_multilabel_label_counts():
    examples = [
        Example(text="x", labels=["a", "b"], split="train"),
        Example(text="y", labels=["a"], split="test"),
    ]
    assert label_counts(examples, "multilabel") == {
        "train": {"a": 1, "b": 1},
        "validation": {},
        "test": {"a": 1},
    }


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ((0.8, 0.1), "three"),
        ((0.8, 0.3, 0.1), "add up to 1"),
        ((1.2, -0.1, -0.1), ">= 0"),
        ((0.0, 0.5, 0.5), "train"),
    ],
)
def test_bad_ratios(ratios, message):
    with pytest.raises(ValueError, match=message):
        assign_splits([], ratios=ratios)


def test_rows_with_the_same_normalised_text_share_a_split():
    # Given texts that differ only in case and spacing (WNUT's "Where ' s Kishan ?" and its twin)
    examples = [Example(text=f"Where ' s item {i} ?", label="ab"[i % 2]) for i in range(60)]
    examples += [Example(text=f"where '  s ITEM {i} ?", label="ab"[i % 2]) for i in range(60)]
    result = assign_splits(examples)
    by_text: dict[str, set[str]] = {}
    for ex in result:
        by_text.setdefault(" ".join(ex.text.split()).casefold(), set()).add(ex.split)
    assert all(len(splits) == 1 for splits in by_text.values())
    assert split_counts(result)["test"] > 0


def test_an_unsplit_row_follows_a_given_row_with_the_same_text():
    given = [
        Example(text="Hello there", label="a", split="test"),
        Example(text="bye", label="b", split="train"),
    ]
    unsplit = [Example(text="hello  THERE", label="a")] + classification({"a": 20, "b": 20})
    result = assign_splits(given + unsplit)
    assert result[2].split == "test"


@pytest.mark.parametrize(
    ("labels", "per_label", "expected"),
    [
        (20, 5, {"train": 80, "validation": 10, "test": 10}),
        (30, 15, {"train": 360, "validation": 45, "test": 45}),
    ],
)
def test_many_small_classes_still_get_the_requested_ratios(labels, per_label, expected):
    counts = {f"label{i:02d}": per_label for i in range(labels)}
    result = assign_splits(classification(counts))
    assert split_counts(result) == expected
    trained = label_counts(result, "classification")["train"]
    assert all(trained[label] >= 1 for label in counts)


def test_given_splits_argument_closes_splits_the_rows_do_not_show():
    # An append: the parent's official test split is closed even though no new row names it.
    result = assign_splits(classification({"a": 30, "b": 30}), given_splits=["test"])
    assert split_counts(result)["test"] == 0 and split_counts(result)["validation"] == 6
