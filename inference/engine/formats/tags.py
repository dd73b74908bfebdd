"""Extraction examples from tokens and their tags: BIO checks, IOB1 conversion and repair, alignment."""

from __future__ import annotations

from .. import words
from ..types import Example
from .rows import _count, _RowParser


class _TokenRows(_RowParser):
    """Rows given as tokens and tags (JSON Lines and CoNLL), turned into extraction examples."""

    def check_tags(self, line: int, tags: list[str]) -> list[str] | None:
        """Validated IOB2 tags (converted from IOB1, repaired when asked); None after reporting a problem."""
        if self.iob1:
            converted = words.repair_bio(tags)  # for IOB1 this is the lossless conversion to IOB2
            self.converted += converted != tags
            tags = converted
        problems = words.bio_problems(tags)
        if problems and self.options.repair_bio:
            repaired = words.repair_bio(tags)
            if not words.bio_problems(repaired):
                self.repaired += 1
                return repaired
            problems = words.bio_problems(repaired)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            fix = "" if self.options.repair_bio else " Or turn on BIO repair to fix these automatically."
            self.error(
                line,
                "invalid_bio",
                "invalid BIO tags: " + "; ".join(problems[:3]) + more + "." + fix,
            )
            return None
        return tags

    def from_tokens(
        self, line: int, tokens: list[str], tags: list[str], split: str | None, text: str | None = None
    ) -> None:
        """Build an extraction example from pre-tokenised words and their tags (and the text they
        were cut from, when given)."""
        if len(tokens) != len(tags):
            self.error(
                line,
                "tokens_tags_mismatch",
                f"the row has {_count(len(tokens), 'token')} but {_count(len(tags), 'tag')}; every token "
                "needs exactly one tag.",
            )
            return
        for i, tok in enumerate(tokens):
            if not tok.strip():
                self.error(line, "empty_token", f"token {i + 1} is empty. Remove it together with its tag.")
                return
        joined = words.join_tokens(tokens)
        if text is None or text == joined:
            text, offsets, kept = joined, words.word_offsets(joined, tokens), list(tokens)
        else:
            offsets, bad = words.align_tokens(text, tokens)
            if offsets is None:
                self.error(
                    line, "tokens_text_mismatch", _misaligned(text, tokens, bad, self.options.text_column)
                )
                return
            # The text as given is kept; its words are found again the way serving finds them.
            kept = None
        if not self.check_text(line, text):
            return
        checked = self.check_tags(line, tags)
        if checked is None:
            return
        spans = words.tags_to_spans(offsets, checked)
        self.result.examples.append(Example(text=text, entities=spans, tokens=kept, split=split, line=line))


def _misaligned(text: str, tokens: list[str], bad: int, text_key: str) -> str:
    if bad >= len(tokens):
        where = "the text goes on after the last token"
    else:
        shown = _short_quote(text[_skip_to_token(text, tokens, bad) :])
        where = f"token {bad + 1} '{_short_quote(tokens[bad])}' does not come next in the text (it goes on '{shown}')"
    return (
        f"the tokens do not spell out the text: {where}. The tokens, in order, must be the words of "
        f"'{text_key}' (only the spaces between them may differ); fix them, or leave '{text_key}' out."
    )


def _skip_to_token(text: str, tokens: list[str], index: int) -> int:
    offsets, _ = words.align_tokens(text, tokens[:index])
    pos = offsets[-1][1] if offsets else 0
    return len(text) - len(text[pos:].lstrip())


def _short_quote(value: str, limit: int = 30) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
