"""Assign train/validation/test splits: seeded, stratified, and respectful of given splits."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

from .types import SPLITS, Example

_NONE = "<none>"  # stratum of examples without any label/entity


def annotation_labels(example: Example, task: str) -> list[str]:
    """The labels an example carries: its label, its labels, or its distinct entity types."""
    if task == "classification":
        return [example.label] if example.label else []
    if task == "multilabel":
        return list(dict.fromkeys(example.labels or []))
    return list(dict.fromkeys(span.label for span in example.entities or []))


def split_counts(examples: Sequence[Example]) -> dict[str, int]:
    """Examples per split; rows without a split are not counted."""
    counts = dict.fromkeys(SPLITS, 0)
    for ex in examples:
        if ex.split in counts:
            counts[ex.split] += 1
    return counts


def label_counts(examples: Sequence[Example], task: str) -> dict[str, dict[str, int]]:
    """Per split, how many examples carry each label (for extraction: each entity type)."""
    counts: dict[str, Counter[str]] = {split: Counter() for split in SPLITS}
    for ex in examples:
        if ex.split in counts:
            counts[ex.split].update(annotation_labels(ex, task))
    return {split: dict(sorted(c.items())) for split, c in counts.items()}


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3:
        raise ValueError(f"ratios must be three numbers (train, validation, test), got {len(ratios)}")
    if any(not isinstance(r, int | float) or not math.isfinite(r) or r < 0 for r in ratios):
        raise ValueError(f"ratios must be finite numbers >= 0, got {tuple(ratios)}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"ratios must add up to 1, got {tuple(ratios)} (sum {sum(ratios):g})")
    if ratios[0] <= 0:
        raise ValueError("the train ratio must be greater than 0")
    return float(ratios[0]), float(ratios[1]), float(ratios[2])


def _stratum(example: Example, task: str, frequency: Counter[str]) -> str:
    """The group an example is stratified in (see ``assign_splits``)."""
    if task == "classification":
        return example.label or _NONE
    if task == "multilabel":
        # The rarest label, so rare labels get spread over the splits first.
        labels = example.labels or []
        return min(labels, key=lambda lab: (frequency[lab], lab)) if labels else _NONE
    types = Counter(span.label for span in example.entities or [])
    if not types:
        return _NONE
    # Most frequent type in the example; ties go to the type that is rarer overall.
    return min(types, key=lambda t: (-types[t], frequency[t], t))


def _round(x: float) -> int:
    # Half up, not Python's banker's rounding: 5 examples * 0.1 gives 1, not 0.
    return math.floor(x + 0.5)


def _order_key(seed: int, example: Example, index: int) -> tuple[str, int]:
    # A content hash (not hash(), which varies per process) makes the order reproducible.
    digest = hashlib.sha256(f"{seed}\x00{example.text}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest, index


def assign_splits(
    examples: Sequence[Example],
    *,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 13,
    task: str = "classification",
) -> list[Example]:
    """Copies of ``examples`` where every row without a split gets one; given splits are kept.

    Stratified by label (multilabel: rarest label; extraction: most frequent entity type, or
    "no entities"). Each stratum of n unsplit rows sends round(n * ratio) to validation and to
    test, but never leaves a stratum without a train example. A non-train split that the file
    already fills (an official test set, say) gets no unsplit rows; its share goes to train.
    """
    r_train, r_val, r_test = _check_ratios(ratios)
    given = {ex.split for ex in examples if ex.split is not None}
    if "validation" in given:
        r_train, r_val = r_train + r_val, 0.0
    if "test" in given:
        r_train, r_test = r_train + r_test, 0.0

    frequency: Counter[str] = Counter()
    for ex in examples:
        frequency.update(annotation_labels(ex, task))
    strata: dict[str, list[int]] = defaultdict(list)
    has_train: set[str] = set()
    for i, ex in enumerate(examples):
        key = _stratum(ex, task, frequency)
        if ex.split is None:
            strata[key].append(i)
        elif ex.split == "train":
            has_train.add(key)

    out = [replace(ex) for ex in examples]
    for key, members in strata.items():
        members.sort(key=lambda i: _order_key(seed, examples[i], i))
        n = len(members)
        n_val, n_test = _round(n * r_val), _round(n * r_test)
        min_train = 0 if key in has_train else 1
        # Take back from the larger held-out split until train keeps its minimum.
        while n_val + n_test > n - min_train:
            if n_test > n_val:
                n_test -= 1
            else:
                n_val -= 1
        plan = ["validation"] * n_val + ["test"] * n_test + ["train"] * (n - n_val - n_test)
        for i, split in zip(members, plan, strict=True):
            out[i] = replace(examples[i], split=split)
    return out
