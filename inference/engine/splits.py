"""Assign train/validation/test splits: seeded, stratified, and respectful of given splits."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
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


def normalised_text(text: str) -> str:
    """Texts that differ only in case or spacing count as the same text (duplicates, leakage, splits)."""
    return " ".join(text.split()).casefold()


def _round(x: float) -> int:
    # Half up, not Python's banker's rounding: 5 examples * 0.1 gives 1, not 0.
    return math.floor(x + 0.5)


def _floor(x: float) -> int:
    # 0.7 * 10 is 7.000000000000001 but 0.3 * 3 is 0.8999999999999999: forgive the float error.
    return math.floor(x + 1e-9)


def _digest(seed: int, key: str) -> str:
    # A content hash (not hash(), which varies per process) makes the order reproducible.
    return hashlib.sha256(f"{seed}\x00{key}".encode("utf-8", "surrogatepass")).hexdigest()


def assign_splits(
    examples: Sequence[Example],
    *,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 13,
    task: str = "classification",
    given_splits: Collection[str] | None = None,
) -> list[Example]:
    """Copies of ``examples`` where every row without a split gets one; given splits are kept.

    Rows whose normalised text is equal always share a split, so the platform never creates
    leakage: an unsplit row follows a row with the same text that already has a split.
    Stratified by label (multilabel: rarest label; extraction: most frequent entity type, or
    "no entities"): the overall validation and test counts are round(n * ratio), handed out to
    the strata by largest remainder, never leaving a stratum without a train example. A
    non-train split that is given (by default: that the rows already fill, an official test
    set, say; or ``given_splits``) gets no unsplit rows; its share goes to train.
    """
    r_train, r_val, r_test = _check_ratios(ratios)
    given = set(given_splits) if given_splits is not None else {ex.split for ex in examples if ex.split}
    if "validation" in given:
        r_train, r_val = r_train + r_val, 0.0
    if "test" in given:
        r_train, r_test = r_train + r_test, 0.0

    out = [replace(ex) for ex in examples]
    placed: dict[str, str] = {}  # normalised text -> the split a row with that text already has
    for ex in examples:
        if ex.split is not None and placed.get(normalised_text(ex.text)) != "train":
            placed[normalised_text(ex.text)] = ex.split  # train wins: a copy there leaks nothing
    groups: dict[str, list[int]] = defaultdict(list)  # normalised text -> unsplit rows
    for i, ex in enumerate(examples):
        if ex.split is None:
            key = normalised_text(ex.text)
            if key in placed:
                out[i] = replace(ex, split=placed[key])
            else:
                groups[key].append(i)

    frequency: Counter[str] = Counter()
    for ex in examples:
        frequency.update(annotation_labels(ex, task))
    strata: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)
    for key, members in groups.items():
        strata[_stratum(examples[members[0]], task, frequency)].append((key, members))
    has_train = {_stratum(ex, task, frequency) for ex in out if ex.split == "train"}
    sizes = {stratum: sum(len(m) for _, m in members) for stratum, members in strata.items()}
    quotas = _quotas(sizes, has_train, {"validation": r_val, "test": r_test}, seed)

    for stratum, members in strata.items():
        members.sort(key=lambda group: (_digest(seed, group[0]), group[1][0]))
        left = dict(quotas[stratum])
        plan: list[str] = []
        for _, rows in members:
            # A group larger than what a split still needs goes to train rather than overfill it.
            split = next((s for s in ("validation", "test") if left[s] >= len(rows)), "train")
            if split != "train":
                left[split] -= len(rows)
            plan.append(split)
        if stratum not in has_train and "train" not in plan:
            plan[-1] = "train"
        for (_, rows), split in zip(members, plan, strict=True):
            for i in rows:
                out[i] = replace(examples[i], split=split)
    return out


def _quotas(
    sizes: dict[str, int], has_train: set[str], rates: dict[str, float], seed: int
) -> dict[str, dict[str, int]]:
    """Validation and test rows per stratum: the overall count is round(total * rate); each stratum
    gets the floor of its share and the rest go to the largest remainders."""
    total = sum(sizes.values())
    quotas = {s: {split: _floor(n * rate) for split, rate in rates.items()} for s, n in sizes.items()}

    def room(s: str) -> int:
        return sizes[s] - (0 if s in has_train else 1) - sum(quotas[s].values())

    for s in sizes:
        while room(s) < 0:  # only with extreme ratios: give back from the larger held-out split
            larger = max(quotas[s], key=lambda split: (quotas[s][split], split))
            quotas[s][larger] -= 1
    for split, rate in rates.items():
        left = _round(total * rate) - sum(q[split] for q in quotas.values())
        while left > 0:
            open_strata = [s for s in sizes if room(s) > 0]
            if not open_strata:
                break
            # Largest remainder first; on a tie, the stratum holding out fewer rows so far.
            open_strata.sort(
                key=lambda s: (quotas[s][split] - sizes[s] * rate, sum(quotas[s].values()), _digest(seed, s))
            )
            for s in open_strata[:left]:
                quotas[s][split] += 1
            left -= min(left, len(open_strata))
    return quotas


# -- Holding out a test set from training rows ---------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")


def near_duplicate_key(text: str) -> str:
    """Texts equal once lowercased with punctuation and spacing collapsed ("Where's my card?" and
    "where s my card") count as one text when a test set is held out or leakage is looked for."""
    key = _NOT_WORD.sub(" ", text.casefold()).strip()
    return key or normalised_text(text)  # a text of punctuation only is its own key


def carve_test_split(
    examples: Sequence[Example],
    *,
    task: str,
    seed: int,
    ratio: float,
    minimum: int,
    maximum: int,
    keep_per_stratum: int,
) -> list[Example]:
    """Copies of ``examples`` where part of the training rows (split ``train`` or none) become
    ``test``; every other row is returned as it is.

    The held-out count is ``round(n * ratio)`` within [``minimum``, ``maximum``], and never fewer
    than one row per stratum (label; multilabel: rarest label; extraction: most frequent entity
    type). It is handed out to the strata in proportion, by largest remainder, leaving each at
    least ``keep_per_stratum`` training rows. Rows with the same ``near_duplicate_key`` go to the
    same side. Which groups go is decided by a seeded hash of their text, so the same rows and seed
    give the same test set whatever their order.
    """
    out = [replace(ex) for ex in examples]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        if (ex.split or "train") == "train":
            groups[near_duplicate_key(ex.text)].append(i)
    if not groups:
        return out
    frequency: Counter[str] = Counter()
    for members in groups.values():
        for i in members:
            frequency.update(annotation_labels(examples[i], task))
    strata: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)
    for key, members in groups.items():
        strata[_stratum(examples[members[0]], task, frequency)].append((key, members))
    sizes = {stratum: sum(len(m) for _, m in members) for stratum, members in strata.items()}
    total = sum(sizes.values())
    labelled = [s for s in sizes if s != _NONE]
    target = min(max(_round(total * ratio), minimum, len(labelled)), max(maximum, len(labelled)))
    quotas = _carve_quotas(sizes, {s: len(m) for s, m in strata.items()}, target, keep_per_stratum, seed)
    for stratum, members in strata.items():
        members.sort(key=lambda group: (_digest(seed, group[0]), group[1][0]))
        left, kept = quotas[stratum], 0
        for position, (_, rows) in enumerate(members):
            undecided = len(members) - position - 1
            # A group too big for what the stratum still holds out stays in train, and so do
            # enough groups that the stratum keeps ``keep_per_stratum`` distinct training texts.
            if len(rows) <= left and kept + undecided >= keep_per_stratum:
                left -= len(rows)
                for i in rows:
                    out[i] = replace(examples[i], split="test")
            else:
                kept += 1
    return out


def _carve_quotas(
    sizes: dict[str, int], group_counts: dict[str, int], target: int, keep: int, seed: int
) -> dict[str, int]:
    """Held-out rows per stratum: at least one where the stratum can spare it, then the floor of
    its share of ``target``, then the largest remainders."""
    total = sum(sizes.values())
    rate = target / total

    def spare(s: str) -> int:  # rows a stratum can give while keeping ``keep`` groups in train
        return sizes[s] - keep if group_counts[s] > keep else 0

    quotas = {s: min(_floor(n * rate), spare(s)) for s, n in sizes.items()}
    for s in sizes:
        if s != _NONE and quotas[s] < 1 <= spare(s):
            quotas[s] = 1
    left = target - sum(quotas.values())
    while left > 0:
        open_strata = [s for s in sizes if quotas[s] < spare(s)]
        if not open_strata:
            break
        open_strata.sort(key=lambda s: (quotas[s] - sizes[s] * rate, _digest(seed, s)))
        for s in open_strata[:left]:
            quotas[s] += 1
        left -= min(left, len(open_strata))
    return quotas
