"""JSON Lines: one object per line, with text and label(s), entity offsets, or tokens and tags."""

from __future__ import annotations

import json
from typing import Any

from .. import words
from ..types import Example, RowError, Span
from .common import _lines
from .rows import _json_type
from .tags import _TokenRows


class _JsonlReader(_TokenRows):
    """Reads JSON Lines files for every task."""

    def parse_jsonl(self, text: str) -> None:
        if text.lstrip().startswith("[") and _is_json_array(text):
            self.error(
                1,
                "json_array",
                "the file is a single JSON array. Upload JSON Lines instead: one JSON object per line.",
            )
            return
        # Every line is read before any row is checked (the keys and the tag scheme are decided on
        # the whole file); a broken line's error is made again in the second pass, in its place, so
        # that errors come out in line order without holding a message for every broken line.
        raw_lines = _lines(text)
        read: list[tuple[int, dict[str, Any] | None]] = []
        keys: dict[str, None] = {}
        for number, raw in enumerate(raw_lines, start=1):
            if not raw.strip():
                continue
            self.count_row()
            obj = _json_object(number, raw)
            read.append((number, obj if isinstance(obj, dict) else None))
            if isinstance(obj, dict):
                keys.update(dict.fromkeys(str(k) for k in obj))
        self.result.columns = list(keys)[:100]
        objects = [obj for _, obj in read if obj is not None]
        # A missing key is one error about the whole file; parse() lists it after the lines' problems.
        if self.task == "extraction":
            usable = bool(objects) and self._extraction_keys(list(keys))
            self.iob1 = usable and words.is_iob1(
                [t.strip() for t in tags] for obj in objects if _str_list(tags := _tags(obj)[1])
            )
        else:
            usable = bool(objects) and self.required_columns(list(keys))
        for number, obj in read:
            if obj is None:
                error = _json_object(number, raw_lines[number - 1])
                if isinstance(error, RowError):  # always: the line fails as it did the first time
                    self.error(number, error.code, error.message)
            elif usable:
                self._json_row(number, obj)

    def _extraction_keys(self, found: list[str]) -> bool:
        """Some row must hold text (or tokens) and some row entities (or tags); one error if not."""
        text_key, label_key = self.options.text_column, self.label_column
        missing = []
        if text_key not in found and "tokens" not in found:
            missing.append((f"no '{text_key}' key for the text (nor 'tokens')", "text_column", "text"))
        if label_key not in found and not {"tags", "ner_tags"} & set(found):
            missing.append(
                (
                    f"no '{label_key}' key for the entities (nor 'tags' beside 'tokens')",
                    "label_column",
                    "entities",
                )
            )
        if not missing:
            return True
        shown = ", ".join(f"'{c}'" for c in found[:30]) or "none"
        several = len(missing) > 1
        self.error(
            None,
            "missing_column",
            f"There is {' and '.join(m[0] for m in missing)}. The keys in this file are: {shown}. "
            f"Set {' and '.join(m[1] for m in missing)} to the key{'s' if several else ''} that "
            f"hold{'' if several else 's'} the {' and the '.join(m[2] for m in missing)}.",
        )
        return False

    def _json_row(self, line: int, obj: dict[str, Any]) -> None:
        ok, split = self.split(line, obj.get(self.options.split_column))
        if not ok:
            return
        if self.task == "extraction":
            tagged = ("tags" in obj or "ner_tags" in obj) and self.label_column not in obj
            if "tokens" in obj and (self.options.text_column not in obj or tagged):
                self._json_tokens(line, obj, split)
            else:
                self._json_entities(line, obj, split)
            return
        text = obj.get(self.options.text_column)
        if not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        self._add_labelled(line, text.strip(), obj.get(self.label_column), split)

    def _json_tokens(self, line: int, obj: dict[str, Any], split: str | None) -> None:
        tokens = obj.get("tokens")
        key, tags = _tags(obj)
        if not _str_list(tokens):
            self.error(line, "bad_tokens", "'tokens' must be a list of strings.")
            return
        if isinstance(tags, list) and tags and all(_is_whole_number(t) for t in tags):
            # What a Hugging Face dataset exports: ids whose names live in the dataset's features.
            self.error(
                line,
                "tag_ids",
                f"'{key}' holds tag ids (numbers such as {tags[0]}), but tags must be tag names like "
                f"B-PER, I-PER or O. Replace each id with its name (a Hugging Face dataset lists them in "
                f"features['{key}'].feature.names) and upload the file again.",
            )
            return
        if not _str_list(tags):
            self.error(
                line, "bad_tags", f"'{key}' must be a list of tag strings such as O, B-person, I-person."
            )
            return
        text = obj.get(self.options.text_column)
        if text is not None and not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        self.from_tokens(line, tokens, [t.strip() for t in tags], split, text)

    def _json_entities(self, line: int, obj: dict[str, Any], split: str | None) -> None:
        text = obj.get(self.options.text_column)
        if not isinstance(text, str):
            self.error(line, "bad_text", f"'{self.options.text_column}' must be a string of text.")
            return
        # Entity offsets point into the text as given, so it is checked but never stripped.
        if not self.check_text(line, text):
            return
        raw = obj.get(self.label_column)
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            self.error(line, "bad_entities", f"'{self.label_column}' must be a list of entities.")
            return
        spans: list[Span] = []
        for i, ent in enumerate(raw, start=1):
            span = self._entity(line, i, ent, text)
            if span is None:
                return
            spans.append(span)
        spans = sorted(set(spans), key=lambda s: (s.start, s.end, s.label))
        for prev, cur in zip(spans, spans[1:], strict=False):
            if cur.start < prev.end:
                self.error(
                    line,
                    "overlapping_entities",
                    f"entities '{text[prev.start : prev.end]}' ({prev.start}-{prev.end}, {prev.label}) and "
                    f"'{text[cur.start : cur.end]}' ({cur.start}-{cur.end}, {cur.label}) overlap. "
                    "Keep only one of them.",
                )
                return
        self.result.examples.append(Example(text=text, entities=spans, split=split, line=line))

    def _entity(self, line: int, i: int, ent: Any, text: str) -> Span | None:
        """One entity from ``{"start","end","label"}`` (or ``[start, end, label]``), checked."""
        if isinstance(ent, list) and len(ent) == 3:
            ent = {"start": ent[0], "end": ent[1], "label": ent[2]}
        if not isinstance(ent, dict):
            self.error(
                line,
                "bad_entity",
                f'entity {i} must be an object like {{"start": 0, "end": 5, "label": "person"}}.',
            )
            return None
        start, end, label = ent.get("start"), ent.get("end"), ent.get("label")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            self.error(
                line,
                "bad_entity_offsets",
                f"entity {i}: 'start' and 'end' must be whole numbers (character positions), got {start!r} and {end!r}.",
            )
            return None
        if not isinstance(label, str) or not label.strip():
            self.error(line, "bad_entity_label", f"entity {i} has no 'label'. Give every entity a type.")
            return None
        if end <= start:
            self.error(
                line,
                "bad_entity_offsets",
                f"entity {i}: 'end' ({end}) must be greater than 'start' ({start}).",
            )
            return None
        if start < 0 or end > len(text):
            self.error(
                line,
                "entity_outside_text",
                f"entity {i} ({start}-{end}) lies outside the text, which is {len(text)} characters long. "
                "Offsets count characters from 0; fix 'start' and 'end'.",
            )
            return None
        surface = text[start:end]
        if not surface.strip():
            self.error(
                line,
                "blank_entity",
                f"entity {i} ({start}-{end}) covers only spaces. Mark the words themselves.",
            )
            return None
        if surface != surface.strip():
            # "Bob " and "Bob" are the same entity; the model is taught words, not the spaces around them.
            self.trimmed += 1
            start += len(surface) - len(surface.lstrip())
            end -= len(surface) - len(surface.rstrip())
        return Span(start, end, label.strip())


def _json_object(number: int, raw: str) -> dict[str, Any] | RowError:
    """The object on one line, or the error to report for it."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return RowError(
            number,
            "bad_json",
            f"this is not valid JSON ({_json_reason(exc)}). Each line must be one JSON object.",
        )
    if not isinstance(obj, dict):
        return RowError(
            number,
            "not_object",
            f'each line must be a JSON object like {{"text": ...}}, not {_json_type(obj)}.',
        )
    return obj


def _tags(obj: dict[str, Any]) -> tuple[str, Any]:
    """The key the row's tags are read from ("tags", else Hugging Face's "ner_tags") and its value."""
    key = "tags" if "tags" in obj else "ner_tags"
    return key, obj.get(key)


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except (ValueError, RecursionError):
        return False


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at character {exc.colno}"
    return "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:100]
