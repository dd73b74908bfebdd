"""Which rows a training job is judged on: the version's test split, a test set held out from its
training rows, or its validation split; and whether there are enough of them to judge at all.

One function decides, so the check made when a job is created and the split the worker uses are
the same: the rows of a dataset version never change, and the hold-out is seeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .splits import _NONE, _stratum, annotation_labels, carve_test_split, near_duplicate_key
from .types import Example

# evaluate_on: "auto" judges on the test split when the version has one, else holds one out.
EVALUATE_ON = ("auto", "test", "carved", "validation")
TEST_SOURCES = ("test", "carved", "validation")
# A held-out test set: 15% of the training rows, at least 10 (sentences, for extraction) and at
# least one per label; at most 2,000, enough to pin accuracy within about ±2 points (95%), while
# the rest of a big dataset still trains.
CARVE_RATIO = 0.15
MIN_CARVED_TEST = 10
MAX_CARVED_TEST = 2000
# Training texts each label keeps after the hold-out: the version's own findings refuse fewer than 2.
MIN_TRAIN_PER_LABEL = 2


class EvaluationSplitError(ValueError):
    """No honest evaluation is possible with these rows; ``code`` and ``details`` say why and what is needed."""

    def __init__(self, message: str, *, code: str, details: dict):
        super().__init__(message)
        self.message, self.code, self.details = message, code, details


@dataclass
class EvaluationSplit:
    """The rows a job trains on (``examples``: train and validation) and is judged on (``test``)."""

    source: str  # "test" | "carved" | "validation"
    examples: list[Example]
    test: list[Example]
    statement: str  # one sentence for the plan, the job's events and the evaluation
    seed: int

    def summary(self) -> dict:
        train = sum(1 for ex in self.examples if (ex.split or "train") == "train")
        validation = sum(1 for ex in self.examples if ex.split == "validation")
        return {
            "test_source": self.source,
            "test_size": len(self.test),
            "train_size": train,
            "validation_size": validation,
            "seed": self.seed,
            "statement": self.statement,
        }


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def evaluation_split(
    examples: Sequence[Example], *, task: str, evaluate_on: str = "auto", seed: int = 13
) -> EvaluationSplit:
    """Resolve ``evaluate_on`` for these rows; EvaluationSplitError when it cannot be honoured."""
    if evaluate_on not in EVALUATE_ON:
        raise EvaluationSplitError(
            f"Unknown evaluate_on '{evaluate_on}': choose {', '.join(EVALUATE_ON)}.",
            code="validation_failed",
            details={"evaluate_on": evaluate_on, "choices": list(EVALUATE_ON)},
        )
    rows = list(examples)
    unit = "sentence" if task == "extraction" else "example"
    test = [ex for ex in rows if ex.split == "test"]
    validation = [ex for ex in rows if ex.split == "validation"]
    if evaluate_on == "test" or (evaluate_on == "auto" and test):
        if not test:
            raise EvaluationSplitError(
                "The dataset version has no test examples to evaluate on. Mark some rows as test and "
                "upload a new version, or choose evaluate_on 'carved' (hold out part of the training "
                "rows) or 'validation'.",
                code="evaluation_split_empty",
                details={"evaluate_on": "test", "test_size": 0},
            )
        train = [ex for ex in rows if ex.split != "test"]
        return EvaluationSplit(
            "test", train, test, f"Test set: the version's test split ({_count(len(test), unit)}).", seed
        )
    if evaluate_on == "validation":
        if not validation:
            raise EvaluationSplitError(
                "The dataset version has no validation examples to evaluate on. Choose evaluate_on "
                "'carved' to hold out part of the training rows instead.",
                code="evaluation_split_empty",
                details={"evaluate_on": "validation", "validation_size": 0},
            )
        train = [ex for ex in rows if ex.split != "test"]
        return EvaluationSplit(
            "validation",
            train,
            validation,
            f"Test set: the validation split ({_count(len(validation), unit)}), as chosen; the same "
            "examples decide when training stops, so the figures may be slightly optimistic.",
            seed,
        )
    return _carved(rows, task=task, seed=seed, unit=unit, had_test=len(test))


def _carved(rows: list[Example], *, task: str, seed: int, unit: str, had_test: int) -> EvaluationSplit:
    kept = [ex for ex in rows if ex.split != "test"]  # a given test split is not used when carving
    lead = "There are" if had_test else "The version has no test split, and there are"
    _check_enough(kept, task, unit, lead)
    split = carve_test_split(
        kept,
        task=task,
        seed=seed,
        ratio=CARVE_RATIO,
        minimum=MIN_CARVED_TEST,
        maximum=MAX_CARVED_TEST,
        keep_per_stratum=MIN_TRAIN_PER_LABEL,
    )
    test = [ex for ex in split if ex.split == "test"]
    train = [ex for ex in split if ex.split != "test"]
    trained_on = sum(1 for ex in train if (ex.split or "train") == "train")
    _check_carved(train, test, task, unit, lead)
    why = (
        f"the version's {_count(had_test, 'test example')} {'is' if had_test == 1 else 'are'} not used, as chosen"
        if had_test
        else "the version has no test split"
    )
    statement = (
        f"Test set: {_count(len(test), unit)} held out from the training rows ({why}), chosen at "
        f"random with seed {seed} in proportion to each label, near-duplicate texts kept on one "
        f"side; the model trains on the other {trained_on:,}."
    )
    return EvaluationSplit("carved", train, test, statement, seed)


def _groups_per_stratum(rows: list[Example], task: str) -> Counter[str]:
    """Distinct training texts (near-duplicates counted once) per stratum, as the hold-out counts them."""
    frequency: Counter[str] = Counter()
    training = [ex for ex in rows if (ex.split or "train") == "train"]
    for ex in training:
        frequency.update(annotation_labels(ex, task))
    first: dict[str, Example] = {}
    for ex in training:
        first.setdefault(near_duplicate_key(ex.text), ex)
    return Counter(_stratum(ex, task, frequency) for ex in first.values())


def _check_enough(rows: list[Example], task: str, unit: str, lead: str) -> None:
    """Refuse, with the numbers needed, a hold-out that could not give every label a test example
    and still leave it MIN_TRAIN_PER_LABEL training texts, or could not reach MIN_CARVED_TEST."""
    groups = _groups_per_stratum(rows, task)
    labelled = {s: n for s, n in groups.items() if s != _NONE}
    per_label = 1 + MIN_TRAIN_PER_LABEL
    short = {s: n for s, n in sorted(labelled.items()) if n < per_label}
    needed_total = MIN_CARVED_TEST + MIN_TRAIN_PER_LABEL * max(len(labelled), 1)
    have_total = sum(groups.values())
    what = "entity type" if task == "extraction" else "label"
    details = {
        "needed": {"total": needed_total, f"per_{what.replace(' ', '_')}": per_label},
        "have": {"total": have_total, "short": short},
        "min_test": MIN_CARVED_TEST,
    }
    if short:
        listed = ", ".join(f"'{s}' has {n}" for s, n in list(short.items())[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        raise EvaluationSplitError(
            f"{lead} too few training {unit}s to hold out a test set: each {what} "
            f"needs at least {per_label} distinct {unit}s (1 to test, {MIN_TRAIN_PER_LABEL} to learn "
            f"from), but {listed}{more}. Add {unit}s, mark some rows as test, or evaluate on the "
            "validation split.",
            code="not_enough_examples_to_evaluate",
            details=details,
        )
    if have_total < needed_total:
        raise EvaluationSplitError(
            f"{lead} too few training {unit}s to hold out a test set: at least "
            f"{needed_total:,} distinct {unit}s are needed ({MIN_CARVED_TEST} to test, "
            f"{MIN_TRAIN_PER_LABEL} per {what} to learn from), and there are {have_total:,}. Add "
            f"{unit}s, mark some rows as test, or evaluate on the validation split.",
            code="not_enough_examples_to_evaluate",
            details=details,
        )


def _check_carved(train: list[Example], test: list[Example], task: str, unit: str, lead: str) -> None:
    """The hold-out as made (duplicate groups can make it fall short of what the counts promised)."""
    in_test = Counter(lab for ex in test for lab in annotation_labels(ex, task))
    stratum_labels = {s for s in _groups_per_stratum(train + test, task) if s != _NONE}
    missing = sorted(s for s in stratum_labels if not in_test[s])
    if len(test) < MIN_CARVED_TEST or missing:
        raise EvaluationSplitError(
            f"{lead} too few distinct training {unit}s to hold out a test set "
            f"({_count(len(test), unit)} could be held out"
            + (f"; none for {', '.join(missing[:5])}" if missing else "")
            + f", at least {MIN_CARVED_TEST} and one per label are needed). Add {unit}s or mark some rows as test.",
            code="not_enough_examples_to_evaluate",
            details={"held_out": len(test), "min_test": MIN_CARVED_TEST, "labels_without_test": missing},
        )
