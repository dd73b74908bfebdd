"""What operators read from a web node: ``GET /metrics`` (Prometheus) and ``GET /metrics/serving``
(this process's serving statistics, JSON), and the HTTP figures recorded for every request.

Middleware, placed before tenant resolution, so that a node's own scraper can ask by IP address
(``TenantHostMiddleware`` would answer an unknown host with a 404).
"""

from __future__ import annotations

import hmac
import logging
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from core import metrics
from tenants.error_bodies import error_response
from tenants.services import usage_buffer_stats

from .metrics import metrics_text

access_logger = logging.getLogger("scalpel.access")

METRICS_PATH = "/metrics"
SERVING_STATS_PATH = "/metrics/serving"
LOOPBACK = {"127.0.0.1", "::1"}
# Paths answered by middleware, before any URL pattern: each is its own route label.
MIDDLEWARE_ROUTES = {"/healthz", "/readyz", METRICS_PATH, SERVING_STATS_PATH}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def may_read_serving_stats(request) -> bool:
    """Loopback callers (a sidecar, the node's own scraper) or the bearer of SCALPEL_METRICS_TOKEN."""
    token = getattr(settings, "SCALPEL_METRICS_TOKEN", "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(header, f"Bearer {token}"):
        return True
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    return not forwarded and request.META.get("REMOTE_ADDR") in LOOPBACK


def serving_stats() -> dict:
    """Loaded model versions, their memory, shared bases, cache hits/misses/evictions, micro-batches, RSS."""
    # Imported on the first call, not with the middleware: a web process would otherwise load the
    # engine's runtime modules at start (about 7 MB) before serving any model.
    from inference.services.runtime_cache import runtime_cache

    return {"runtime_cache": runtime_cache().stats(), "usage": usage_buffer_stats()}


class OperatorMetricsMiddleware:
    """``/metrics`` and ``/metrics/serving``, for loopback callers or the bearer of the metrics token."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path not in (METRICS_PATH, SERVING_STATS_PATH):
            return self.get_response(request)
        if not may_read_serving_stats(request):
            return error_response("forbidden", "Operators only.")
        if request.path == METRICS_PATH:
            return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
        return JsonResponse(serving_stats())


def route_of(request) -> str:
    """The URL pattern that answered (``api/v1/models/<str:name>/predict``), never the raw path."""
    if request.path in MIDDLEWARE_ROUTES:
        return request.path
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return match.route
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


class HttpMetricsMiddleware:
    """Counts every answer by route, method and status, and times it; with ``SCALPEL_ACCESS_LOG``
    (on in production) logs it too, one line per request carrying the request's fields."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.access_log = settings.SCALPEL_ACCESS_LOG

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        elapsed = time.perf_counter() - started
        metrics.HTTP_DURATION.labels(route, method).observe(elapsed)
        if self.access_log:
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
        return response
