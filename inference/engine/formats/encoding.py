"""Bytes to text: UTF-8 (with or without BOM), else Windows-1252 or Latin-1; UTF-16 and binary refused."""

from __future__ import annotations

import re

# C0 control characters that text files do not contain (tab, line breaks and form feed are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

_NOT_TEXT = "This does not look like a text file ({}). Upload a CSV, TSV, JSON Lines or CoNLL text file."


def decode(data: bytes) -> tuple[str | None, str, str | None]:
    """Decode ``data``: returns ``(text, encoding, problem)``; text is None when it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (
            None,
            "utf-16",
            "The file is saved as UTF-16. Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again.",
        )
    if b"\x00" in data:
        return None, "binary", _NOT_TEXT.format("it contains binary data")
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    try:
        text, encoding = body.decode("utf-8"), "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError:
        text, encoding = _decode_legacy(body)
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        return None, "binary", _NOT_TEXT.format("it contains many control characters")
    return text, encoding, None


def _decode_legacy(body: bytes) -> tuple[str, str]:
    # Bytes 0x80-0x9F are control characters in Latin-1 but smart quotes, dashes and the euro sign
    # in Windows-1252, the encoding Excel on Windows saves "CSV" in.
    if re.search(rb"[\x80-\x9f]", body):
        try:
            return body.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:  # one of the five bytes Windows-1252 leaves undefined
            pass
    # Latin-1 maps every byte to a character, so it is the fallback of last resort.
    return body.decode("latin-1"), "latin-1"
