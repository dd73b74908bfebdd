"""One error shape for every API response: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger("scalpel.api")


class ApiError(exceptions.APIException):
    """An expected error a client can act on, with a stable code."""

    def __init__(self, code: str, message: str, *, status_code: int = 400, details=None, headers=None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


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
    exceptions.ValidationError: ("validation_failed", "The request is not valid: see details."),
}


def _from_service_error(exc) -> ApiError:
    """A service's expected failure (inference.services.errors.ServiceError) as an API error."""
    headers = {}
    retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return ApiError(exc.code, exc.message, status_code=exc.status, details=exc.details, headers=headers)


def exception_handler(exc, context):
    # Imported here: the platform app must not depend on the tenant app at import time.
    from inference.services.errors import ServiceError

    if isinstance(exc, ServiceError):
        exc = _from_service_error(exc)
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.error_code, exc.message, exc.details), status=exc.status_code, headers=exc.headers
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
    # Unexpected: log everything, tell the client nothing but an id to quote.
    incident = uuid.uuid4().hex[:12]
    request = context.get("request")
    tenant = getattr(getattr(request, "tenant", None), "slug", None)
    logger.exception(
        "Unhandled API error %s (tenant=%s path=%s)", incident, tenant, getattr(request, "path", None)
    )
    return Response(
        error_body(
            "internal_error", f"Something went wrong on our side. Quote incident {incident} to support."
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_not_found(request, exception=None):
    """404 handler: JSON for API paths, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("internal_error", "Something went wrong on our side."), status=500)
    from django.views.defaults import server_error

    return server_error(request)
