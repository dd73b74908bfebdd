"""The API's exception handler: every failure becomes {"error": {"code", "message", "details"}}.

An application error's status comes from ``error_bodies.STATUS_BY_CODE``, the one table from codes
to statuses; DRF's own exceptions keep theirs, with a stable code.
"""

from __future__ import annotations

import logging
import sys
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions
from rest_framework.response import Response

from core import outages
from core.exceptions import SEE_DETAILS, ApplicationError

from .error_bodies import error_body, error_response, outage_response, status_of

logger = logging.getLogger("scalpel.api")

_DRF_CODES = {
    exceptions.NotAuthenticated: ("invalid_api_key", "Send your API key as 'Authorization: Bearer <key>'."),
    exceptions.AuthenticationFailed: ("invalid_api_key", None),
    exceptions.PermissionDenied: ("insufficient_scope", None),
    exceptions.NotFound: ("not_found", None),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    exceptions.Throttled: ("rate_limited", None),
    exceptions.ParseError: ("malformed_request", None),
    exceptions.ValidationError: ("validation_failed", SEE_DETAILS),
}


def _application_error(exc: ApplicationError) -> Response:
    headers = {}
    retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
    if retry_after is not None:  # rate limits and quotas say when to come back
        headers["Retry-After"] = str(int(retry_after))
    return Response(error_body(exc.code, exc.message, exc.details), status=status_of(exc), headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return _application_error(exc)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _application_error(
            ApplicationError(
                f"The request body is larger than {limit} bytes, the most this API reads. "
                "Send fewer or shorter inputs per request.",
                code="payload_too_large",
                details={"max_body_bytes": limit},
            )
        )
    if isinstance(exc, SuspiciousOperation):
        # Django's own answer to these is a bare 400 (too many fields, a bad multipart body, ...).
        logger.warning("Suspicious API request refused: %s", exc)
        return _application_error(
            ApplicationError(
                "The request could not be read: check its body and headers.", code="malformed_request"
            )
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        code, message = "error", None
        for cls, (mapped, default_message) in _DRF_CODES.items():
            if isinstance(exc, cls):
                code, message = mapped, default_message
                break
        details = exc.detail if isinstance(exc, exceptions.ValidationError) else None
        if message is None:
            message = str(exc.detail) if not isinstance(exc.detail, list | dict) else "Request failed."
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return Response(error_body(code, message, details), status=exc.status_code, headers=headers)
    outage = outages.outage_of(exc)
    if outage is not None:
        return outage_response(context["request"], outage)
    # Unexpected: log everything, tell the client nothing but an id to quote.
    incident = uuid.uuid4().hex[:12]
    request = context.get("request")
    tenant = getattr(getattr(request, "tenant", None), "slug", None)
    logger.exception(
        "Unhandled API error %s (tenant=%s path=%s)", incident, tenant, getattr(request, "path", None)
    )
    return _application_error(
        ApplicationError(
            f"Something went wrong on our side. Quote incident {incident} to support.", code="internal_error"
        )
    )


def outage_or_server_error(request):
    """handler500: an outage raised outside a view (in a middleware) is a 503 too (``sys.exc_info``)."""
    outage = outages.outage_of(sys.exc_info()[1])
    if outage is not None:
        return outage_response(request, outage)
    return json_server_error(request)


@csrf_exempt  # API calls carry a key, not a session: a POST to a wrong URL is a 404, not a CSRF page
def api_not_found(request, path: str = ""):
    """The last /api/ route: an unknown API URL is a JSON 404 whatever DEBUG says.

    Django's handler404 only runs with DEBUG off; ``manage.py dev`` runs with it on. Because this
    route matches every /api/ path, APPEND_SLASH no longer redirects ``/api/v1/schema``: we do.
    """
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    message = f"No such API endpoint: {request.method} {request.path}."
    if request.path.endswith("/") and _is_endpoint(request.path.rstrip("/")):
        message += f" API paths have no trailing slash: use {request.path.rstrip('/')}."
    else:
        message += " See /api/v1/docs/ for the endpoints."
    return error_response("not_found", message)


def _is_endpoint(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False


def json_not_found(request, exception=None):
    """404 handler: JSON for API paths, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response("not_found", "No such API endpoint.")
    return page_not_found(request, exception)


def json_server_error(request):
    if request.path.startswith("/api/"):
        return error_response("internal_error", "Something went wrong on our side.")
    return server_error(request)
