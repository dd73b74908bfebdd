"""Request plumbing: the request id, probes that bypass tenancy, tenant resolution by host, suspension."""

from __future__ import annotations

import copy

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware

from core import logcontext, outages

from . import probes
from .error_bodies import error_response, outage_response

API_PREFIX = "/api/"


class RequestIdMiddleware:
    """First of all: every request gets an id, and every response (errors too) carries it.

    A well-formed ``X-Request-ID`` from the caller or the proxy is kept, anything else replaced by a
    new one (``core.logcontext``). The id is bound for the request's log lines and error bodies.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = logcontext.request_id_accept(request.headers.get(logcontext.REQUEST_ID_HEADER))
        request.request_id = request_id
        # Started afresh for each request, and left bound after it: Django logs a 404 or a 500 after
        # the response has left the middleware, and that line needs the id too.
        logcontext.context_start(request_id=request_id)
        response = self.get_response(request)
        response[logcontext.REQUEST_ID_HEADER] = request_id
        return response


class HostileUrlMiddleware:
    """Refuse a URL whose path or query string holds a NUL character (``%00``) with a 400.

    No page or filter of the platform has a use for one, and further in it fails in odd places
    (PostgreSQL refuses NUL in text: a 500 in any list that filters on the value).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            message = "The address contains a NUL character (%00): remove it and try again."
            if request.path.startswith(API_PREFIX):
                return error_response("malformed_request", message)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ProbeMiddleware:
    """Answer /healthz and /readyz for any Host header (load balancers probe by IP)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse(probes.health())
        if request.path == "/readyz":
            body = probes.readiness(require_workers=probes.required_queues(request.GET.get("workers")))
            return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
        return self.get_response(request)


class OutageMiddleware:
    """A view that fails because PostgreSQL, Redis or the broker is away answers 503 with Retry-After.

    API views answer through DRF's exception handler (``api_errors``); this covers pages and the
    other views. An outage inside a later middleware reaches ``handler500``, which does the same.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        outage = outages.outage_of(exception)
        return outage_response(request, outage) if outage is not None else None


class TenantHostMiddleware(TenantMainMiddleware):
    """django-tenants' host → schema resolution; unknown hosts are a plain 404.

    The public hosts always map to the public tenant (it cannot be suspended or moved), so that
    lookup is kept per process: API calls, which arrive on a public host, skip one query each.
    """

    _public: dict[str, object] = {}

    def process_request(self, request):
        try:
            response = super().process_request(request)
        except outages.OUTAGE_ERRORS as exc:  # the host lookup needs the database
            return outage_response(request, exc)
        tenant = getattr(request, "tenant", None)
        if tenant is not None and tenant.schema_name != "public":
            logcontext.context_bind(tenant=tenant.slug)
        return response

    def get_tenant(self, domain_model, hostname):
        if hostname not in settings.SCALPEL_PUBLIC_HOSTS:
            return super().get_tenant(domain_model, hostname)
        tenant = self._public.get(hostname)
        if tenant is None:
            tenant = super().get_tenant(domain_model, hostname)
            if tenant.schema_name == "public":
                self._public[hostname] = tenant
        return copy.copy(tenant)  # the middleware sets attributes on it per request


class SuspendedTenantMiddleware:
    """A suspended tenant sees a clear page (HTML) or a stable error code (API); data stays."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None and getattr(tenant, "is_suspended", False):
            return suspended_response(request, tenant)
        return self.get_response(request)


def suspended_response(request, tenant):
    message = f"The workspace '{tenant.slug}' is suspended. Contact your platform operator to reactivate it."
    if request.path.startswith(API_PREFIX):
        return error_response("tenant_suspended", message)
    return render(request, "suspended.html", {"tenant": tenant, "message": message}, status=403)
