"""Findings on the training examples each label has: too few labels, too few examples, imbalance.

Counted on the train split (rows without a split count as train): validation and test examples
teach the model nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .splits import annotation_labels
from .types import Example, Finding


def _train_counts(examples: Sequence[Example], task: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    all_labels: set[str] = set()
    for ex in examples:
        labels = annotation_labels(ex, task)
        all_labels.update(labels)
        if ex.split in (None, "train"):
            counts.update(labels)
    for label in all_labels:
        counts.setdefault(label, 0)  # a label seen only in validation/test has 0 to train on
    return counts


def label_findings(examples: Sequence[Example], task: str, min_warn: int, min_error: int) -> list[Finding]:
    """Too few labels, too few (or rare) training examples of a label, and the imbalance between labels."""
    counts = _train_counts(examples, task)
    noun = "entity type" if task == "extraction" else "label"
    if task == "extraction" and not counts:
        return [
            Finding(
                "too_few_labels",
                "error",
                "No entities are marked in any example. Mark the entities the model should find.",
            )
        ]
    if task == "classification" and len(counts) < 2:
        return [
            Finding(
                "too_few_labels",
                "error",
                "All examples have the same label. A model needs at least two different labels to choose between.",
                count=len(counts),
            )
        ]
    out = []
    for label, n in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        what = (
            f"example{'s' if n != 1 else ''} of '{label}'"
            if task != "extraction"
            else f"example{'s' if n != 1 else ''} with a '{label}' entity"
        )
        if n < min_error:
            out.append(
                Finding(
                    "too_few_examples",
                    "error",
                    f"There {'is' if n == 1 else 'are'} only {n} training {what}; at least {min_error} "
                    f"are needed, so training would be refused. Add at least {min_error - n} more "
                    f"(better {max(min_warn - n, min_error - n)} or more), or remove this {noun}.",
                    count=n,
                    details={"label": label, "train": n, "needed": min_error - n},
                )
            )
        elif n < min_warn:
            out.append(
                Finding(
                    "rare_label",
                    "warning",
                    f"There are only {n} training {what}, so the model will often miss it. "
                    f"Add at least {min_warn - n} more.",
                    count=n,
                    details={"label": label, "train": n, "needed": min_warn - n},
                )
            )
    present = {k: v for k, v in counts.items() if v > 0}
    if len(present) >= 2:
        largest = max(present, key=lambda k: (present[k], k))
        smallest = min(present, key=lambda k: (present[k], k))
        ratio = present[largest] / present[smallest]
        severity = "warning" if ratio > 10 else "info"
        advice = (
            f"The model may favour '{largest}'. Add more examples of the rare {noun}s if you can."
            if severity == "warning"
            else "That is balanced enough."
        )
        out.append(
            Finding(
                "class_imbalance",
                severity,
                f"The most common {noun} '{largest}' has {ratio:.1f} times as many training examples "
                f"({present[largest]:,}) as the rarest '{smallest}' ({present[smallest]:,}). {advice}",
                count=len(present),
                details={"ratio": round(ratio, 2), "largest": largest, "smallest": smallest},
            )
        )
    return out
