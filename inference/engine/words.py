"""Word segmentation and conversions between character spans and BIO tags.

Extraction models label words, users think in character spans. These functions are the one
place where the two meet, for training, evaluation and serving alike.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from .types import Span

# Words as people and pre-tokenised corpora see them: links, @mentions and #hashtags stay whole,
# as do words with inner apostrophes or hyphens ("don't", "e-mail"), clitics ("'s"), HTML entities
# numbers ("30,000", "7:30") and runs of punctuation ("...", ":)").
_WORD = re.compile(
    r"https?://\S+|www\.\S+|&\w+;|[@#]\w+|\d+(?:[.,:]\d+)+%?|['’]\w+|\w+(?:['’-]\w+)*|[^\w\s]+", re.UNICODE
)


def word_offsets(text: str, tokens: list[str] | None = None) -> list[tuple[int, int]]:
    """Character offsets of the words of ``text``.

    With ``tokens`` (a pre-tokenised source whose text is the tokens joined by single
    spaces) the words are exactly those tokens; otherwise ``_WORD`` segments the raw text,
    exactly as serving will.
    """
    if tokens is not None:
        offsets, pos = [], 0
        for tok in tokens:
            offsets.append((pos, pos + len(tok)))
            pos += len(tok) + 1
        return offsets
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def join_tokens(tokens: list[str]) -> str:
    return " ".join(tokens)


def spans_to_tags(offsets: list[tuple[int, int]], spans: list[Span]) -> list[str]:
    """IOB2 tags for the words at ``offsets``: a word inside a span gets its label."""
    tags = ["O"] * len(offsets)
    for span in sorted(spans, key=lambda s: s.start):
        first = True
        for i, (start, end) in enumerate(offsets):
            if start < span.end and end > span.start:
                tags[i] = ("B-" if first else "I-") + span.label
                first = False
    return tags


def partial_word(offsets: list[tuple[int, int]], span: Span) -> tuple[int, int, int, int] | None:
    """For a span that covers only part of a word: that word's offsets and those of the words
    ``spans_to_tags`` will tag for it (the span widened to whole words); None when it covers whole words."""
    first = bisect.bisect_right(offsets, span.start, key=lambda word: word[0]) - 1  # the word at span.start
    if first < 0 or offsets[first][1] <= span.start:
        first += 1
    covered = []
    while first < len(offsets) and offsets[first][0] < span.end:
        covered.append(offsets[first])
        first += 1
    partial = next(((s, e) for s, e in covered if s < span.start or e > span.end), None)
    if partial is None:
        return None
    return partial[0], partial[1], covered[0][0], covered[-1][1]


def tags_to_spans(offsets: list[tuple[int, int]], tags: list[str]) -> list[Span]:
    """Character spans of the entities in an IOB2/BIO tag sequence (a stray ``I-`` starts one)."""
    spans: list[Span] = []
    start = end = None
    label = None
    for (w_start, w_end), tag in zip(offsets, tags, strict=False):
        prefix, _, tag_label = tag.partition("-")
        if prefix == "I" and label == tag_label and start is not None:
            end = w_end
            continue
        if start is not None:
            spans.append(Span(start, end, label))
            start = end = label = None
        if prefix in ("B", "I") and tag_label:
            start, end, label = w_start, w_end, tag_label
    if start is not None:
        spans.append(Span(start, end, label))
    return spans


def _entity_type(tag: str) -> str | None:
    """The type of a ``B-``/``I-`` tag; None for ``O`` and for tags that are not BIO."""
    return tag[2:] if tag[:2] in ("B-", "I-") and len(tag) > 2 else None


def is_iob1(sequences: Iterable[list[str]]) -> bool:
    """True when the tags follow IOB1, as CoNLL-2003 files do: some entity starts with ``I-``, and
    ``B-`` only ever separates two adjacent entities of the same type."""
    starts_with_i = False
    for tags in sequences:
        prev: str | None = None
        for tag in tags:
            kind = _entity_type(tag)
            if kind is not None and kind != prev:
                if tag.startswith("B-"):
                    return False  # a B- opening an entity after O or another type: IOB2
                starts_with_i = True
            prev = kind
    return starts_with_i


def bio_problems(tags: list[str]) -> list[str]:
    """Human-readable problems with a tag sequence; empty when it is valid IOB2."""
    problems = []
    prev = "O"
    for i, tag in enumerate(tags):
        if tag != "O" and not re.fullmatch(r"[BI]-\S+", tag):
            problems.append(f"token {i + 1}: tag '{tag}' is not O, B-<type> or I-<type>{_tag_hint(tag)}")
        elif tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            problems.append(
                f"token {i + 1}: '{tag}' continues an entity that was not started "
                f"(previous tag '{prev}'); it should be 'B-{tag[2:]}'"
            )
        prev = tag
    return problems


def _tag_hint(tag: str) -> str:
    if re.fullmatch(r"[bi]-\S+|o", tag):
        return f" (write the prefix in capitals: '{tag[0].upper()}{tag[1:]}')"
    if re.fullmatch(r"[ESLU]-\S+", tag):
        return " (BIOES/BILOU tags are not read: write S-/U- as B- and E-/L- as I-)"
    return ""


def repair_bio(tags: list[str]) -> list[str]:
    """Turn BIO/IOB1 into valid IOB2: an ``I-`` that starts an entity becomes ``B-``."""
    out = []
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def align_tokens(text: str, tokens: list[str]) -> tuple[list[tuple[int, int]] | None, int]:
    """Offsets of ``tokens`` in ``text``, which they must spell out in order with only whitespace
    between them; ``(None, i)`` when token ``i`` (or, with i == len(tokens), trailing text) does not fit."""
    offsets, pos = [], 0
    for i, tok in enumerate(tokens):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(tok, pos):
            return None, i
        offsets.append((pos, pos + len(tok)))
        pos += len(tok)
    if text[pos:].strip():
        return None, len(tokens)
    return offsets, -1
