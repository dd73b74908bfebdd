"""Bytes to text: UTF-8 (with or without BOM), else Windows-1252 or Latin-1; UTF-16 and binary refused.

A file that is UTF-8 except for a few lines (rows pasted in from another program) keeps its UTF-8
lines as they are: only the lines that are not valid UTF-8 are decoded the legacy way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# C0 control characters that text files do not contain (tab, line breaks and form feed are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# The line breaks the readers count lines by (CSV's universal newlines; JSON Lines and CoNLL alike).
_LINE_BREAK = re.compile(rb"(\r\n|\r|\n)")
_MAX_NAMED_LINES = 5

_NOT_TEXT = "This does not look like a text file ({}). Upload a CSV, TSV, JSON Lines or CoNLL text file."


@dataclass
class Decoded:
    """An upload's text; ``text`` is None when it is not text, and ``problem`` then says why."""

    text: str | None
    encoding: str  # "utf-8", "utf-8-sig", "windows-1252", "latin-1", "utf-8/<legacy>", "utf-16", "binary"
    problem: str | None = None
    legacy_lines: list[int] = field(default_factory=list)  # 1-based; only in a mostly-UTF-8 file


def decode(data: bytes) -> tuple[str | None, str, str | None]:
    """Decode ``data``: returns ``(text, encoding, problem)``; text is None when it is not text."""
    decoded = decode_upload(data)
    return decoded.text, decoded.encoding, decoded.problem


def decode_upload(data: bytes) -> Decoded:
    """Decode ``data``, saying which lines (if any) were not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(
            None,
            "utf-16",
            "The file is saved as UTF-16. Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again.",
        )
    if b"\x00" in data:
        return Decoded(None, "binary", _NOT_TEXT.format("it contains binary data"))
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    try:
        decoded = Decoded(body.decode("utf-8"), "utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError:
        decoded = _decode_by_line(body)
    sample = (decoded.text or "")[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        return Decoded(None, "binary", _NOT_TEXT.format("it contains many control characters"))
    return decoded


def encoding_warning(decoded: Decoded) -> str | None:
    """What the user should know about how the file was decoded; None for plain UTF-8."""
    if decoded.legacy_lines:
        lines = decoded.legacy_lines
        n = len(lines)
        legacy = _LEGACY_NAMES[decoded.encoding.partition("/")[2]]
        return (
            f"{_name_lines(lines)} not valid UTF-8, so {'it was' if n == 1 else 'they were'} decoded as "
            f"{legacy}; the rest of the file is UTF-8 and was read as such. If characters on "
            f"{'that line' if n == 1 else 'those lines'} look wrong, correct them and save the file as UTF-8."
        )
    if decoded.encoding == "latin-1":
        return (
            "The file is not valid UTF-8, so it was decoded as Latin-1. If accented letters look "
            "wrong, save the file as UTF-8 and upload it again."
        )
    if decoded.encoding == "windows-1252":
        return (
            "The file is not valid UTF-8; its bytes are those of Windows-1252 (what Excel on Windows "
            "saves as CSV), so it was decoded as Windows-1252. If quotes, dashes or accented letters look "
            "wrong, save the file as UTF-8 ('CSV UTF-8' in Excel) and upload it again."
        )
    return None


_LEGACY_NAMES = {"windows-1252": "Windows-1252", "latin-1": "Latin-1"}


def _decode_by_line(body: bytes) -> Decoded:
    """UTF-8 line by line; the lines that are not UTF-8 in the legacy encoding their bytes suggest."""
    parts = _LINE_BREAK.split(body)  # line, break, line, break, ..., line
    lines, breaks = parts[::2], [b.decode("ascii") for b in parts[1::2]] + [""]
    texts: list[str] = []
    bad: list[int] = []
    utf8_elsewhere = False  # a line holds non-ASCII UTF-8, so the file is not legacy throughout
    for number, raw in enumerate(lines, start=1):
        try:
            texts.append(raw.decode("utf-8"))
            utf8_elsewhere = utf8_elsewhere or not raw.isascii()
        except UnicodeDecodeError:
            texts.append("")
            bad.append(number)
    if not utf8_elsewhere:
        text, encoding = _decode_legacy(body)
        return Decoded(text, encoding)
    codec = _legacy_codec(b"".join(lines[n - 1] for n in bad))
    for n in bad:
        texts[n - 1] = lines[n - 1].decode(codec)
    return Decoded(
        "".join(t + b for t, b in zip(texts, breaks, strict=True)), f"utf-8/{codec}", legacy_lines=bad
    )


def _legacy_codec(data: bytes) -> str:
    # Bytes 0x80-0x9F are control characters in Latin-1 but smart quotes, dashes and the euro sign
    # in Windows-1252, the encoding Excel on Windows saves "CSV" in.
    if re.search(rb"[\x80-\x9f]", data):
        try:
            data.decode("cp1252")
            return "windows-1252"
        except UnicodeDecodeError:  # one of the five bytes Windows-1252 leaves undefined
            pass
    # Latin-1 maps every byte to a character, so it is the fallback of last resort.
    return "latin-1"


def _decode_legacy(body: bytes) -> tuple[str, str]:
    codec = _legacy_codec(body)
    return body.decode(codec), codec


def _name_lines(lines: list[int]) -> str:
    """The lines named for a sentence: 'Line 7 is', 'Lines 3 and 7 are', '12 lines (3, 7, ... and 7 more) are'."""
    if len(lines) == 1:
        return f"Line {lines[0]} is"
    shown = [str(n) for n in lines[:_MAX_NAMED_LINES]]
    if len(lines) <= _MAX_NAMED_LINES:
        return f"Lines {', '.join(shown[:-1])} and {shown[-1]} are"
    return f"{len(lines):,} lines ({', '.join(shown)} and {len(lines) - len(shown):,} more) are"
