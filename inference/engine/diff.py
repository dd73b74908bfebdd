"""What changes between two sets of labelled examples: rows added, removed and relabelled.

Rows are matched by their text (whitespace-trimmed, exactly as stored otherwise), so a row whose
annotation changed is "relabelled", not "removed and added". A text that appears more than once
is matched occurrence by occurrence, in order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .types import Example

SAMPLE = 50  # rows of each kind a comparison lists (counts are always complete)


def annotation(example: Example) -> Any:
    """The part of an example a person labelled, comparable with ``==``."""
    if example.entities is not None:
        return tuple(sorted((s.start, s.end, s.label) for s in example.entities))
    if example.labels is not None:
        return tuple(sorted(example.labels))
    return example.label


def describe(example: Example) -> str:
    if example.entities is not None:
        return (
            ", ".join(f"{example.text[s.start : s.end]} ({s.label})" for s in example.entities)
            or "no entities"
        )
    if example.labels is not None:
        return ", ".join(sorted(example.labels)) or "no labels"
    return example.label or ""


@dataclass
class Diff:
    added: int = 0
    removed: int = 0
    relabelled: int = 0
    unchanged: int = 0
    samples: dict[str, list[dict[str, str]]] = field(
        default_factory=lambda: {"added": [], "removed": [], "relabelled": []}
    )

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.relabelled)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "relabelled": self.relabelled,
            "unchanged": self.unchanged,
            "samples": self.samples,
        }


def examples_diff(old: list[Example], new: list[Example], *, sample: int = SAMPLE) -> Diff:
    """How ``new`` differs from ``old``; ``samples`` holds up to ``sample`` rows of each kind."""
    before: dict[str, list[Example]] = defaultdict(list)
    for example in old:
        before[example.text.strip()].append(example)
    diff = Diff()

    def keep(kind: str, row: dict[str, str]) -> None:
        if len(diff.samples[kind]) < sample:
            diff.samples[kind].append(row)

    for example in new:
        key = example.text.strip()
        if before.get(key):
            previous = before[key].pop(0)
            if annotation(previous) == annotation(example):
                diff.unchanged += 1
            else:
                diff.relabelled += 1
                keep("relabelled", {"text": key, "before": describe(previous), "after": describe(example)})
        else:
            diff.added += 1
            keep("added", {"text": key, "after": describe(example)})
    for rows in before.values():
        for example in rows:
            diff.removed += 1
            keep("removed", {"text": example.text.strip(), "before": describe(example)})
    return diff
