"""The error body every answer of the platform uses, and the one table from an error's code to its
HTTP status: {"error": {"code", "message", "details", "request_id"}}.

``request_id`` is the request's ``X-Request-ID`` (the caller's, or the one the platform gave it): a
client quotes it to support, an operator finds the request's log lines with it.

DRF's exception handler (``api_errors``) and the answers given outside DRF (middleware, URL
handlers) both build their bodies and statuses here. Plain Django, so that the middleware can use
it without loading DRF when a process starts.
"""

from __future__ import annotations

from django.http import JsonResponse

from core.exceptions import ApplicationError, Conflict, NotFound
from core.logcontext import current_request_id

# A code not listed takes its kind's status (NotFound 404, Conflict 409); any other refusal is a 400.
STATUS_BY_CODE = {
    "invalid_api_key": 401,
    "insufficient_scope": 403,
    "tenant_suspended": 403,
    "forbidden": 403,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "dataset_exists": 409,
    "model_not_ready": 409,
    "quality_gate_failed": 409,
    "nothing_to_roll_back": 409,
    "no_such_alias": 409,
    "version_in_use": 409,
    "model_in_use": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "quota_exceeded": 429,
    "internal_error": 500,
    "artifact_unavailable": 503,
}


def status_of(error: ApplicationError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 400


def error_body(code: str, message: str, details=None) -> dict:
    return {
        "error": {"code": code, "message": message, "details": details, "request_id": current_request_id()}
    }


def error_response(code: str, message: str, details=None) -> JsonResponse:
    """The error body as a plain Django response, for answers given outside DRF (middleware, URLs)."""
    return JsonResponse(error_body(code, message, details), status=STATUS_BY_CODE.get(code, 400))
