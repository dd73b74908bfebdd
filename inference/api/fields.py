"""Serializer fields the API shares: version references and JSON that PostgreSQL can store."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inference.services.serving import PREDICT_MAX_TOP_K


def _unstorable(value) -> bool:
    """True when a JSON value holds a NUL or a lone surrogate, which PostgreSQL jsonb refuses."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


class StorableJSONField(serializers.JSONField):
    """Any JSON value, refused with a clear message when it holds characters we cannot store."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _unstorable(value):
            raise serializers.ValidationError(
                "Remove NUL characters and unpaired surrogates from this value."
            )
        return value


@extend_schema_field({"type": "object", "additionalProperties": True})
class StorableObjectField(StorableJSONField):
    """A JSON object (e.g. hyperparameters)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Send a JSON object.")
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1, "maxLength": 20}],
        "description": "A version number, or an alias: production, staging or latest.",
    }
)
class VersionRefField(serializers.Field):
    """A version number or an alias name; numbers stay ints."""

    default_error_messages = {
        "invalid": "Give a version number (1, 2, ...) or an alias such as 'production'."
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            if data < 1:
                self.fail("invalid")
            return data
        if isinstance(data, str) and 0 < len(data) <= 20 and data.replace("-", "").replace("_", "").isalnum():
            return int(data) if data.isdigit() else data
        self.fail("invalid")

    def to_representation(self, value):
        return value


# -- strict request bodies -------------------------------------------------------------------------


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "not a string"


# A body key the serializer does not declare is refused, naming it and the accepted ones: ignoring
# it would hide a typo ("topk": 3 doing nothing) from the client. (No docstring: drf-spectacular
# would show it as the description of every request body that uses this.)
class RejectUnknownFieldsMixin:
    def to_internal_value(self, data):
        accepted = [name for name, field in self.fields.items() if not field.read_only]
        unknown = sorted(str(k) for k in data if k not in accepted) if isinstance(data, dict) else []
        if not unknown:
            return super().to_internal_value(data)
        errors = {}
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                errors.update(exc.detail)
        message = f"Unknown field. Accepted fields: {', '.join(accepted)}."
        errors.update({name: [message] for name in unknown})
        raise serializers.ValidationError(errors)


class StrictCharField(serializers.CharField):
    """A JSON string, and only a string: 1 or true is refused instead of becoming "1" or "True"."""

    default_error_messages = {"not_a_string": "Send a string, not {kind}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string", kind=_json_kind(data))
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, and only an integer: "2", 2.5 and true are refused instead of coerced."""

    default_error_messages = {"not_an_integer": "Send a whole number, not {kind}."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer", kind="a string" if isinstance(data, str) else _json_kind(data))
        return super().to_internal_value(data)


class TextListField(serializers.ListField):
    """A list of JSON strings. Its rules (at least one text, the batch and text-length limits) are
    documented here and kept by the service (``serving.predict_inputs_check``), which names them."""

    def __init__(self, *, max_items: int, max_text_length: int, **kwargs):
        self.max_items, self.max_text_length = max_items, max_text_length
        kwargs.setdefault("child", StrictCharField(allow_blank=True, trim_whitespace=False))
        super().__init__(**kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": PREDICT_MAX_TOP_K})
class TopKField(StrictIntegerField):
    """How many labels to answer per input; the range is the service's rule."""
