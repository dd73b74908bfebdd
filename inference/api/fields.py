"""Serializer fields the API shares: version references and JSON that PostgreSQL can store."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


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
