"""CoNLL: one word and its tag per line, sentences separated by empty lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .. import words
from .common import _lines
from .tags import _TokenRows


class _ConllReader(_TokenRows):
    """Reads CoNLL files, which hold extraction data only."""

    def parse_conll(self, text: str) -> None:
        if self.task != "extraction":
            self.error(
                None,
                "format_not_supported",
                "CoNLL files hold word tags, so they can only be used for extraction. For "
                f"{self.task} upload CSV, TSV or JSON Lines.",
            )
            return
        # Read every sentence first: whether the file is IOB1 is decided on all of its tags.
        sentences = list(_conll_sentences(_lines(text)))
        self.iob1 = words.is_iob1(s.tags for s in sentences if s.bad_line is None)
        for sentence in sentences:
            self.count_row()
            if sentence.bad_line is not None:
                self.error(
                    sentence.bad_line,
                    "bad_conll_line",
                    f"expected a word and its tag separated by a tab or space, got '{sentence.bad_text}'. "
                    "Leave an empty line between sentences.",
                )
                continue
            self.from_tokens(sentence.start, sentence.tokens, sentence.tags, None)


@dataclass
class _Sentence:
    start: int
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    bad_line: int | None = None  # the first line that is not "word ... tag"
    bad_text: str = ""


def _conll_sentences(lines: list[str]) -> Iterator[_Sentence]:
    sentence: _Sentence | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence is not None:
                yield sentence
            sentence = None
            continue
        if sentence is None:
            sentence = _Sentence(number)
        if sentence.bad_line is not None:
            continue
        # A tab-separated file may have spaces inside tokens; otherwise any whitespace splits.
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        while fields and not fields[-1]:
            fields.pop()  # a trailing tab, as some spreadsheets write: no field is missing
        if len(fields) < 2 or not fields[0] or not fields[-1]:
            sentence.bad_line, sentence.bad_text = number, line.strip()[:80]
            continue
        sentence.tokens.append(fields[0])
        sentence.tags.append(fields[-1])
    if sentence is not None:
        yield sentence
