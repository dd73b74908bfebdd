"""How deep a JSON document may nest. Checked on the text, before it is parsed, by a scan that
uses no recursion: a body of 100,000 brackets costs one pass, not a RecursionError (a 500) in the
parser, in a validator walking the value, or in PostgreSQL."""

from __future__ import annotations

import re

# Real payloads (hyperparameters, feedback, predict inputs) nest 3 or 4 deep; 32 leaves room.
MAX_JSON_DEPTH = 32

# A string (skipped whole, so brackets inside it do not count) or one bracket.
_TOKENS = re.compile(r'"(?:[^"\\]+|\\.)*"|[\[\]{}]')


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests objects and arrays more than ``limit`` deep."""
    if text.count("[") + text.count("{") <= limit:  # the common case: nothing to scan
        return False
    depth = 0
    for match in _TOKENS.finditer(text):
        bracket = match.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in ("]", "}"):
            depth -= 1
    return False


def json_depth_message(limit: int = MAX_JSON_DEPTH) -> str:
    return f"The JSON nests objects and arrays more than {limit} levels deep, the most accepted: flatten it."
