"""OpenAPI pieces every endpoint shares: the Bearer scheme, the error body, path parameters."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object, force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .fields import RejectUnknownFieldsMixin


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Declares `Authorization: Bearer <key>` so generated clients send the key."""

    target_class = "tenants.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            **build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer"),  # noqa: S106 - a scheme name
            "description": "An API key of your workspace: `Authorization: Bearer scl_...`. The key names the workspace.",
        }


class TextListFieldScheme(OpenApiSerializerFieldExtension):
    """Predict's ``inputs``: the batch and text-length limits, so a generated client knows them."""

    target_class = "inference.api.fields.TextListField"

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        return {
            "type": "array",
            "items": {"type": "string", "maxLength": field.max_text_length},
            "minItems": 1,
            "maxItems": field.max_items,
        }


class ApiAutoSchema(AutoSchema):
    """Names a view's nested InputSerializer/OutputSerializer after the view: DatasetListOutput.

    Every operation can be rate limited, so every one documents the 429's Retry-After header;
    bodies that refuse unknown keys say so (``additionalProperties: false``).
    """

    def get_serializer_name(self, serializer, direction):
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer.endswith("Api"):
            return outer.removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)

    def get_override_parameters(self):
        return [RETRY_AFTER_HEADER, *super().get_override_parameters()]

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if isinstance(force_instance(serializer), RejectUnknownFieldsMixin):
            schema["additionalProperties"] = False
        return schema


class ErrorSerializer(serializers.Serializer):
    class ErrorBodySerializer(serializers.Serializer):
        code = serializers.CharField(
            help_text="Stable machine-readable code, e.g. not_found or rate_limited."
        )
        message = serializers.CharField(help_text="What went wrong and what to do about it, in plain words.")
        details = serializers.JSONField(
            allow_null=True, help_text="Extra facts: field errors, limits, a report."
        )

    error = ErrorBodySerializer()


_ERRORS = {
    400: "validation_failed (or malformed_request): the request is not valid; details say which fields.",
    401: "invalid_api_key: no key, or a key that is unknown, revoked or expired.",
    403: "insufficient_scope (the key lacks this endpoint's scope) or tenant_suspended.",
    404: "not_found: no such object in your workspace.",
    405: "method_not_allowed.",
    409: "A conflict with the object's state (model_not_ready, promotion_gate_failed, nothing_to_roll_back, ...).",
    413: "payload_too_large: too many inputs or too long a text; details name the limit.",
    415: "unsupported_media_type: send JSON (or multipart for uploads).",
    429: "rate_limited or quota_exceeded: retry after the seconds in the Retry-After header.",
    500: "internal_error: quote the incident id to support.",
    503: "artifact_unavailable: the version's files are missing or damaged; serve another version.",
}
# Every authenticated endpoint can answer these.
_COMMON = (400, 401, 403, 405, 415, 429, 500)

RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    description="Seconds to wait before retrying (rate_limited, quota_exceeded).",
    response=[429],
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an endpoint: the common ones plus ``statuses``."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_ERRORS[status])
        for status in sorted({*_COMMON, *statuses})
    }


def responses(ok: dict, *statuses: int) -> dict:
    return {**ok, **error_responses(*statuses)}


# Names are slugs (Dataset.name / Model.name); the URL converters accept exactly these.
NAME_PATTERN = r"^[-a-zA-Z0-9_]+$"
DATASET_NAME = OpenApiParameter(
    "name", {"type": "string", "pattern": NAME_PATTERN}, OpenApiParameter.PATH, description="Dataset name."
)
MODEL_NAME = OpenApiParameter(
    "name", {"type": "string", "pattern": NAME_PATTERN}, OpenApiParameter.PATH, description="Model name."
)
VERSION_NUMBER = OpenApiParameter(
    "n", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="Version number."
)
JOB_ID = OpenApiParameter(
    "id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="Job id."
)


def page_parameters(max_limit: int) -> list[OpenApiParameter]:
    """``limit``/``offset`` of a list that answers at most ``max_limit`` rows at a time."""
    return [
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            description=f"Rows to answer: at most {max_limit}, the default.",
        ),
        OpenApiParameter(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            description="Rows to skip (default 0); `count` in the answer says how many there are.",
        ),
    ]
