"""The error body every answer of the platform uses, and the one table from an error's code to its
HTTP status: {"error": {"code", "message", "details", "request_id"}}.

``request_id`` is the request's ``X-Request-ID`` (the caller's, or the one the platform gave it): a
client quotes it to support, an operator finds the request's log lines with it.

DRF's exception handler (``api_errors``) and the answers given outside DRF (middleware, URL
handlers) both build their bodies and statuses here. Plain Django, so that the middleware can use
it without loading DRF when a process starts.
"""

from __future__ import annotations

import contextlib
import logging

from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from core import outages
from core.exceptions import ApplicationError, Conflict, NotFound
from core.logcontext import current_request_id

logger = logging.getLogger("scalpel.outages")

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
    "base_model_unavailable": 409,
    "quality_gate_failed": 409,
    "nothing_to_roll_back": 409,
    "no_such_alias": 409,
    "version_in_use": 409,
    "idempotency_key_in_use": 409,
    "idempotency_key_reused": 422,
    "model_in_use": 409,
    "dataset_in_use": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "quota_exceeded": 429,
    "internal_error": 500,
    "artifact_unavailable": 503,
    "service_unavailable": 503,  # PostgreSQL, Redis or the broker away for a moment: retry
    "storage_full": 507,
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


def outage_response(request, exc: BaseException) -> HttpResponse:
    """503 with ``Retry-After`` for an outage (``core.outages``): JSON under /api/, a plain page elsewhere.

    The page is built without templates or context processors: they may need the database that is away.
    Logged as a warning without a trace: the cause is known and not a bug.
    """
    service = outages.outage_name(exc)
    logger.warning("%s unavailable (%s: %s); answered 503", service, type(exc).__name__, exc)
    if service == "database":
        _close_database_connection()
    if request.path.startswith("/api/"):
        response = error_response(
            "service_unavailable",
            outages.OUTAGE_MESSAGE,
            {"service": service, "retry_after": outages.RETRY_AFTER_SECONDS},
        )
    else:
        response = HttpResponse(
            "<!doctype html><title>Temporarily unavailable</title><h1>Temporarily unavailable</h1>"
            f"<p>{escape(outages.OUTAGE_MESSAGE)}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(outages.RETRY_AFTER_SECONDS)
    return response


def _close_database_connection() -> None:
    # A connection that failed mid-request is unusable: the next request must open a fresh one.
    from django.db import connection

    with contextlib.suppress(Exception):  # it is broken already
        connection.close()
