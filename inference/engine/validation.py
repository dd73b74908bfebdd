"""Dataset-level checks run before training: unknown labels, duplicates, and Findings.

Messages are written for the business user who owns the data: what is wrong, in plain
words, and what to do about it. The findings on how many examples each label has are in
``label_findings.py``.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from . import words
from .formats import cap_errors
from .holdout import CARVE_RATIO, MIN_CARVED_TEST, EvaluationSplitError, evaluation_split
from .label_findings import label_findings
from .splits import annotation_labels, near_duplicate_key, normalised_text
from .types import Example, Finding, RowError

_MAX_DETAILS = 5  # examples quoted in a finding's details


def _annotation(example: Example, task: str | None = None) -> tuple[Any, ...]:
    """A hashable form of an example's annotation, ignoring label order and entity order."""
    if task == "classification" or (task is None and example.label is not None):
        return ("label", example.label)
    if task == "multilabel" or (task is None and example.labels is not None):
        return ("labels", tuple(sorted(set(example.labels or []))))
    spans = sorted((s.start, s.end, s.label) for s in example.entities or [])
    return ("entities", tuple(spans))


def _readable(example: Example, task: str) -> str:
    """The annotation as a user would write it."""
    if task == "classification":
        return example.label or "(no label)"
    if task == "multilabel":
        return "|".join(sorted(set(example.labels or []))) or "(no labels)"
    spans = sorted(example.entities or [], key=lambda s: s.start)
    return ", ".join(f"{example.text[s.start : s.end]} ({s.label})" for s in spans) or "(no entities)"


_norm = normalised_text  # the split uses the same notion of "the same text", so it creates no leakage


def _conflict_key(example: Example, task: str) -> tuple[Any, ...]:
    """What two rows with the same (normalised) text must agree on; entities by their words, since
    the offsets of "Kishan" and "kishan" agree only when the spacing does."""
    if task != "extraction":
        return _annotation(example, task)
    spans = sorted(example.entities or [], key=lambda s: (s.start, s.end, s.label))
    return ("entities", tuple((_norm(example.text[s.start : s.end]), s.label) for s in spans))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def label_set_errors(
    examples: Sequence[Example], task: str, declared_labels: list[str] | None
) -> list[RowError]:
    """One error per row that uses a label outside ``declared_labels`` (no check when None/empty)."""
    if not declared_labels:
        return []
    allowed = set(declared_labels)
    listed = ", ".join(f"'{lab}'" for lab in declared_labels[:20])
    if len(declared_labels) > 20:
        listed += f" and {len(declared_labels) - 20} more"
    errors = []
    for ex in examples:
        unknown = [lab for lab in annotation_labels(ex, task) if lab not in allowed]
        if not unknown:
            continue
        parts = []
        for lab in unknown:
            close = difflib.get_close_matches(lab, declared_labels, n=1)
            parts.append(f"'{lab}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        prefix = f"Line {ex.line}: " if ex.line is not None else ""
        noun = "label" if len(unknown) == 1 else "labels"
        errors.append(
            RowError(
                ex.line,
                "unknown_label",
                f"{prefix}{noun} {', '.join(parts)} {'is' if len(unknown) == 1 else 'are'} not allowed. "
                f"Use one of: {listed}.",
            )
        )
    return cap_errors(errors)


def dedupe(examples: Sequence[Example]) -> tuple[list[Example], int]:
    """Drop exact duplicates (same text, annotation and split), keeping the first; returns the count."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for ex in examples:
        key = (ex.text, _annotation(ex), ex.split)
        if key in seen:
            continue
        seen.add(key)
        kept.append(ex)
    return kept, len(examples) - len(kept)


def findings(
    examples: Sequence[Example], task: str, *, min_warn: int = 5, min_error: int = 2
) -> list[Finding]:
    """Dataset-level findings. Exact duplicates are dropped first (and reported); label counts
    use the train split, where rows without a split count as train."""
    unique, dropped = dedupe(examples)
    out: list[Finding] = []
    if dropped:
        out.append(
            Finding(
                "duplicates_dropped",
                "info",
                f"{_plural(dropped, 'row')} appeared more than once with the same text, labels and "
                "split, and were removed; only the first copy is kept.",
                count=dropped,
            )
        )
    if not unique:
        out.append(
            Finding(
                "no_examples", "error", "There are no examples to train on. Upload a file with labelled rows."
            )
        )
        return out
    out += _conflicts(unique, task)
    if task == "extraction":
        out += _partial_words(unique)
    out += label_findings(unique, task, min_warn, min_error)
    out += _leakage(unique)
    out += _empty_splits(unique, task)
    return out


def _conflicts(examples: Sequence[Example], task: str) -> list[Finding]:
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[_norm(ex.text)].append(ex)
    conflicts = [g for g in groups.values() if len({_conflict_key(ex, task) for ex in g}) > 1]
    if not conflicts:
        return []
    details = []
    for group in conflicts[:_MAX_DETAILS]:
        # One entry per distinct annotation, quoted as its first row writes it.
        by_answer: dict[tuple[Any, ...], dict[str, Any]] = {}
        for ex in group:
            entry = by_answer.setdefault(_conflict_key(ex, task), {"label": _readable(ex, task), "lines": []})
            entry["lines"].append(ex.line)
        details.append({"text": _short(group[0].text, 200), "labels": list(by_answer.values())})
    what = "entities" if task == "extraction" else "labels"
    first = details[0]
    said = " and ".join(f"line {item['lines'][0]} says '{item['label']}'" for item in first["labels"][:2])
    verb = "appears" if len(conflicts) == 1 else "appear"
    return [
        Finding(
            "conflicting_labels",
            "warning",
            f"{_plural(len(conflicts), 'text')} {verb} more than once with different {what} "
            f'(for example "{_short(first["text"])}": {said}). The model cannot learn two '
            "answers for the same text: decide which label is right and fix or delete the other rows.",
            count=len(conflicts),
            details={"examples": details},
        )
    ]


def _partial_words(examples: Sequence[Example]) -> list[Finding]:
    """Entity spans that end or start inside a word: the model tags whole words, so they grow."""
    found = []
    for ex in examples:
        if ex.tokens is not None:
            continue  # pre-tokenised: spans come from the tokens' tags, so they are whole words
        offsets = words.word_offsets(ex.text)
        for span in ex.entities or []:
            hit = words.partial_word(offsets, span)
            if hit is not None:
                found.append((ex, span, hit))
    if not found:
        return []
    ex, span, (word_start, word_end, start, end) = found[0]
    line = f" (line {ex.line})" if ex.line is not None else ""
    example = (
        f"'{_short(ex.text[span.start : span.end], 40)}'{line} covers part of the word "
        f"'{_short(ex.text[word_start:word_end], 40)}'; the model learns whole words, so it will be "
        f"trained as '{_short(ex.text[start:end], 60)}'"
    )
    n = len(found)
    what = "1 entity covers" if n == 1 else f"{n:,} entities cover"
    return [
        Finding(
            "partial_word_entities",
            "warning",
            f"{what} only part of a word{':' if n == 1 else '; for example'} {example}. Mark whole words, "
            "or separate the entity from the rest of the word in the text.",
            count=n,
            details={
                "examples": [
                    {"line": e.line, "entity": e.text[s.start : s.end], "trained_as": e.text[h[2] : h[3]]}
                    for e, s, h in found[:_MAX_DETAILS]
                ]
            },
        )
    ]


def _leakage(examples: Sequence[Example]) -> list[Finding]:
    """Validation or test texts that a training text repeats, or nearly: the same words once case,
    spacing and punctuation are ignored ("Where's my card?" and "where s my card")."""
    train: dict[str, Example] = {}
    for ex in examples:
        if ex.split == "train":
            train.setdefault(near_duplicate_key(ex.text), ex)
    leaked = [
        (ex, train[key])
        for ex in examples
        if ex.split in ("validation", "test") and (key := near_duplicate_key(ex.text)) in train
    ]
    if not leaked:
        return []
    per_split = Counter(ex.split for ex, _ in leaked)
    return [
        Finding(
            "train_test_leakage",
            "warning",
            f"{_plural(len(leaked), 'text')} in the test or validation set also "
            f"{'appears' if len(leaked) == 1 else 'appear'} in the training set, the same or nearly "
            "(ignoring case, spacing and punctuation), so the measured accuracy will look better than "
            "it really is. Remove them from one of the sets.",
            count=len(leaked),
            details={
                "test": per_split.get("test", 0),
                "validation": per_split.get("validation", 0),
                "examples": [
                    {
                        "text": _short(ex.text, 200),
                        "split": ex.split,
                        "line": ex.line,
                        "training_text": _short(match.text, 200),
                        "training_line": match.line,
                    }
                    for ex, match in leaked[:_MAX_DETAILS]
                ],
            },
        )
    ]


def _empty_splits(examples: Sequence[Example], task: str) -> list[Finding]:
    # Only meaningful once every row has a split.
    if any(ex.split is None for ex in examples):
        return []
    present = Counter(ex.split for ex in examples)
    out = []
    if not present.get("train"):
        out.append(
            Finding(
                "empty_split",
                "error",
                "There are no training examples: every row is marked validation or test. Mark some rows as "
                "train, or leave the split empty to let Scalpel choose.",
                details={"split": "train"},
            )
        )
    if not present.get("validation"):
        out.append(
            Finding(
                "empty_split",
                "warning",
                "There are no validation examples, so training cannot check its progress on unseen "
                "text. Add more examples, or leave the split empty on some rows to let Scalpel choose.",
                details={"split": "validation"},
            )
        )
    if not present.get("test"):
        try:
            evaluation_split(examples, task=task, evaluate_on="carved")
        except EvaluationSplitError as exc:
            # Said now, at upload, rather than when someone tries to train.
            out.append(
                Finding(
                    "no_test_split",
                    "warning",
                    f"{exc.message} Until then a training job can only be judged on the validation split.",
                    details={"split": "test", **exc.details},
                )
            )
            return out
        out.append(
            Finding(
                "no_test_split",
                "info",
                "There are no test examples: each training job holds out "
                f"{round(CARVE_RATIO * 100)}% of the training rows (at least {MIN_CARVED_TEST}, and one "
                "per label) as its test set and trains on the rest, or is judged on the validation "
                "split if you choose. To judge models on texts you pick, mark some rows as test.",
                details={"split": "test"},
            )
        )
    return out
