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
        idempotency = [IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER] if self.method == "POST" else []
        return [RETRY_AFTER_HEADER, *idempotency, *super().get_override_parameters()]

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if self.method == "POST":
            # Any POST may be sent with an Idempotency-Key; an operation's own 409 text is kept.
            for status, response in idempotency_responses().items():
                if str(status) not in bodies:
                    bodies[str(status)] = self._get_response_for_code(
                        response, str(status), direction=direction
                    )
            bodies = dict(sorted(bodies.items()))
        return bodies

    def get_paginated_name(self, serializer_name: str) -> str:
        # Named after the view (DatasetListOutput): the name generated clients know a list's answer by.
        return type(self.view).__name__.removesuffix("Api") + "Output"

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
        request_id = serializers.CharField(
            help_text="This request's id, also in the X-Request-ID response header: quote it to support. "
            "Send your own X-Request-ID (up to 128 letters, digits and ._:=+/-) to have it used instead."
        )

    error = ErrorBodySerializer()


# What each error status means, for the operations that can answer it; an operation may say more.
_ERRORS = {
    400: "validation_failed: the request is not valid; `details` names each field at fault and why. "
    "(malformed_request: the body or headers could not be read.)",
    401: "invalid_api_key: no key, or a key that is unknown, revoked or expired.",
    403: "insufficient_scope: the key lacks this operation's scope (`details` names it and the key's "
    "scopes); tenant_suspended: the workspace is suspended.",
    404: "not_found: no such object in your workspace.",
    409: "The object's state does not allow this now; `code` says which rule.",
    413: "payload_too_large: the body is larger than the API reads; `details` names the limit.",
    415: "unsupported_media_type: send the body as JSON (or multipart/form-data for uploads).",
    429: "rate_limited: too many requests this minute. Retry after the seconds in the Retry-After header.",
    500: "internal_error: something failed on our side; quote the incident id in the message to support.",
    503: "artifact_unavailable: this version's files are missing or damaged; serve another version.",
}
# Every operation can answer these: a bad query or body, no key or a weak one, the rate limit, a bug.
_COMMON = (400, 401, 403, 429, 500)
# Operations that read a request body can also refuse its size and its media type.
BODY_ERRORS = {413: None, 415: None}

RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    description="Seconds to wait before retrying (rate_limited, quota_exceeded).",
    response=[429],
)

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: a unique value per request (a UUID). A retry with the same key within 24 hours "
    "gets the first successful answer again, with `Idempotent-Replayed: true`, and the work is not done "
    "twice. The same key with another method, path or body: 422 idempotency_key_reused. While the "
    "first request still runs: 409 idempotency_key_in_use with Retry-After. An error answer is not "
    "kept: the key can be used again. Keys are scoped to your API key.",
)
IDEMPOTENT_REPLAYED_HEADER = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    description="`true` when this answer is the stored answer to an earlier request with the same Idempotency-Key.",
    response=[200, 201, 202],
)


def idempotency_responses() -> dict:
    return {
        409: OpenApiResponse(
            ErrorSerializer,
            description="idempotency_key_in_use: a request with this Idempotency-Key is still running; "
            "retry after the seconds in Retry-After.",
        ),
        422: OpenApiResponse(
            ErrorSerializer,
            description="idempotency_key_reused: this Idempotency-Key was used with a different request.",
        ),
    }


def responses(ok: dict, errors: dict[int, str | None] | None = None) -> dict:
    """An operation's documented answers: its success, the errors every operation can give, and
    ``errors``, the statuses this one can also answer, each with what it means here (None: the
    general meaning)."""
    errors = {**dict.fromkeys(_COMMON), **(errors or {})}
    return {
        **ok,
        **{
            status: OpenApiResponse(ErrorSerializer, description=errors[status] or _ERRORS[status])
            for status in sorted(errors)
        },
    }


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
