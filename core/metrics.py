"""The platform's Prometheus metrics that processes record as things happen (prometheus-client).

Under gunicorn every worker process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
and ``/metrics`` adds them up (``config/gunicorn.py`` prepares the folder), so the numbers cover the
whole node whichever process answers the scrape. Without that variable (``manage.py dev``, tests)
they are the one process's. Platform-wide figures read at scrape time (queues, workers, training
jobs) are in ``console/metrics.py``.

Label values are bounded: routes are URL patterns, never raw paths, and predictions keep their own
``tenant`` and ``model`` series only for the first ``SCALPEL_METRICS_MAX_TENANTS`` tenants (and
``SCALPEL_METRICS_MAX_MODELS_PER_TENANT`` models of each) a process serves; the rest are counted
under ``other``, so a platform with thousands of tenants cannot swamp the monitoring.
"""

from __future__ import annotations

import threading

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

OTHER = "other"

HTTP_REQUESTS = Counter(
    "scalpel_http_requests",
    "HTTP requests answered, by URL pattern, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "scalpel_http_request_duration_seconds",
    "Time from a request's arrival in Django to its response, by URL pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PREDICTION_REQUESTS = Counter(
    "scalpel_prediction_requests",
    "Prediction requests answered, by tenant and model (bounded: see 'other').",
    ["tenant", "model"],
)
PREDICTION_TEXTS = Counter(
    "scalpel_prediction_texts",
    "Texts predicted, by tenant and model (bounded: see 'other').",
    ["tenant", "model"],
)
CACHE_HITS = Counter("scalpel_runtime_cache_hits", "Predictions served by an already loaded model version.")
CACHE_MISSES = Counter("scalpel_runtime_cache_misses", "Model versions loaded into the runtime cache.")
CACHE_EVICTIONS = Counter(
    "scalpel_runtime_cache_evictions",
    "Model versions dropped from the runtime cache to stay within its budget.",
)
CACHE_LOAD_SECONDS = Histogram(
    "scalpel_runtime_cache_load_seconds",
    "Time to load a model version (fetch, verify, build its runtime).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_BYTES = Gauge(
    "scalpel_runtime_cache_bytes",
    "Memory held by loaded model versions (live web processes added up).",
    multiprocess_mode="livesum",
)
CACHE_VERSIONS = Gauge(
    "scalpel_runtime_cache_versions",
    "Model versions loaded (live web processes added up).",
    multiprocess_mode="livesum",
)


class LabelBudget:
    """The first ``limit`` values seen keep their own label; every later one is ``other``."""

    def __init__(self, limit: int):
        self.limit = limit
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def label(self, value: str) -> str:
        if value in self._values:
            return value
        with self._lock:
            if len(self._values) < self.limit:
                self._values.add(value)
                return value
        return OTHER


class PredictionLabels:
    """Bounded (tenant, model) labels: at most ``max_tenants`` × ``max_models`` series plus ``other``."""

    def __init__(self, *, max_tenants: int, max_models: int):
        self.tenants = LabelBudget(max_tenants)
        self.max_models = max_models
        self._models: dict[str, LabelBudget] = {}
        self._lock = threading.Lock()

    def labels(self, tenant: str, model: str) -> tuple[str, str]:
        tenant = self.tenants.label(tenant)
        if tenant == OTHER:
            return OTHER, OTHER
        budget = self._models.get(tenant)
        if budget is None:
            with self._lock:
                budget = self._models.setdefault(tenant, LabelBudget(self.max_models))
        return tenant, budget.label(model)


_prediction_labels: PredictionLabels | None = None


def prediction_observe(*, tenant: str, model: str, texts: int) -> None:
    """Count one answered prediction request of ``texts`` texts."""
    global _prediction_labels
    if _prediction_labels is None:
        _prediction_labels = PredictionLabels(
            max_tenants=settings.SCALPEL_METRICS_MAX_TENANTS,
            max_models=settings.SCALPEL_METRICS_MAX_MODELS_PER_TENANT,
        )
    labels = _prediction_labels.labels(tenant, model)
    PREDICTION_REQUESTS.labels(*labels).inc()
    PREDICTION_TEXTS.labels(*labels).inc(texts)
