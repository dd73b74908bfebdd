"""Parse uploaded files (CSV, TSV, JSON Lines, CoNLL) into Examples with row-level errors.

Every problem a user can fix in their file becomes a ``RowError`` with a 1-based line number
and a sentence saying what to change; ``parse`` never raises on the file's content.
"""

from .common import (
    FORMATS,
    MAX_STORED_ERRORS,
    SPLIT_ALIASES,
    ParseOptions,
    ParseResult,
    cap_errors,
    default_label_column,
)
from .encoding import decode
from .reading import parse

__all__ = [
    "FORMATS",
    "MAX_STORED_ERRORS",
    "SPLIT_ALIASES",
    "ParseOptions",
    "ParseResult",
    "cap_errors",
    "decode",
    "default_label_column",
    "parse",
]
