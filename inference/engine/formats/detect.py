"""Format auto-detection: JSON Lines, CoNLL, TSV or CSV, guessed from a file's content."""

from __future__ import annotations

import re

from .common import _lines

_TAG = re.compile(r"O|[BI]-\S+")
# For extraction a file of "word tag" lines is CoNLL even when its tags are not valid BIO
# (BIOES, lowercase): tag validation then says what is wrong with them, not the CSV reader.
_LOOSE_TAG = re.compile(r"[Oo]|[BIESLUbiesluo]-\S+")
_CSV_DELIMITERS = (",", "\t", ";", "|")


def detect_format(text: str, task: str | None = None) -> str:
    """Guess the format of a decoded file from its content: ``csv``, ``tsv``, ``jsonl`` or ``conll``."""
    sample = [line for line in _lines(text[:65536]) if line.strip()][:200]
    if not sample:
        return "csv"
    if sample[0].lstrip().startswith(("{", "[")):
        return "jsonl"
    pattern = _LOOSE_TAG if task == "extraction" else _TAG
    tagged = [_looks_tagged(line, pattern) for line in sample]
    # CSV/TSV need a header, which never ends in a tag, so a tagged first line is telling.
    if tagged[0] and sum(tagged) >= 0.5 * len(sample):
        return "conll"
    return "tsv" if _sniff_delimiter(sample[0]) == "\t" else "csv"


def _looks_tagged(line: str, pattern: re.Pattern[str] = _TAG) -> bool:
    fields = line.split()
    return line.startswith("-DOCSTART-") or (len(fields) >= 2 and pattern.fullmatch(fields[-1]) is not None)


def _sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the candidate that occurs most outside double quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in _CSV_DELIMITERS}
    best = max(_CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
