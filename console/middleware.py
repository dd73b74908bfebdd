"""Serving statistics of this web process, for operators: ``GET /metrics/serving``.

A middleware, placed before tenant resolution, so that a node's own scraper can ask by IP address
(``TenantHostMiddleware`` would answer an unknown host with a 404).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import JsonResponse

from tenants.error_bodies import error_response
from tenants.services import usage_buffer_stats

SERVING_STATS_PATH = "/metrics/serving"
LOOPBACK = {"127.0.0.1", "::1"}


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


class ServingStatsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != SERVING_STATS_PATH:
            return self.get_response(request)
        if not may_read_serving_stats(request):
            return error_response("forbidden", "Operators only.")
        return JsonResponse(serving_stats())
