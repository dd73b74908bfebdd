"""``GET /metrics``: Prometheus text for operators (loopback, or ``SCALPEL_METRICS_TOKEN``).

Two kinds of figures:

- what this node's web processes recorded as it happened (``core/metrics.py``: HTTP requests,
  predictions, the runtime cache), added up over the gunicorn workers through
  ``PROMETHEUS_MULTIPROC_DIR``;
- what the whole platform is, read from Redis and PostgreSQL when scraped (queues, live workers,
  training jobs by state with their durations). Every web node answers the same for these: take
  ``max``, not ``sum``, across nodes. They are read at most every ``PLATFORM_CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from django.db import DatabaseError, connection
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from inference.models import TrainingJob
from tenants import workers

from .selectors import queue_lengths, training_jobs_by_device, training_jobs_by_state

logger = logging.getLogger("scalpel.metrics")

PLATFORM_CACHE_SECONDS = 10.0
JOB_DURATION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 10800.0)
FINISHED = (TrainingJob.Status.SUCCEEDED, TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED)


def _queue_families() -> tuple[list, bool]:
    lengths = queue_lengths()
    depth = GaugeMetricFamily(
        "scalpel_queue_messages", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    for queue, length in lengths.items():
        if length is not None:
            depth.add_metric([queue], length)
    return [depth], all(length is not None for length in lengths.values())


def _worker_families() -> tuple[list, bool]:
    try:
        alive = workers.workers_alive()
    except redis.RedisError as exc:
        logger.warning("worker heartbeats could not be read: %s", exc)
        return [], False
    count = GaugeMetricFamily(
        "scalpel_workers", "Celery workers with a fresh heartbeat, by queue they consume.", labels=["queue"]
    )
    for queue, names in workers.workers_by_queue(alive).items():
        count.add_metric([queue], len(names))
    age = GaugeMetricFamily(
        "scalpel_worker_heartbeat_age_seconds",
        "Seconds since each live worker's last heartbeat.",
        labels=["worker"],
    )
    for worker in alive:
        age.add_metric([worker["name"]], worker["age_seconds"])
    return [count, age], True


def _job_families() -> tuple[list, bool]:
    try:
        connection.set_schema_to_public()
        states = training_jobs_by_state(buckets=JOB_DURATION_BUCKETS)
        devices = training_jobs_by_device()
    except DatabaseError as exc:
        logger.warning("training jobs could not be counted: %s", exc)
        return [], False
    jobs = GaugeMetricFamily(
        "scalpel_training_jobs", "Training jobs of every tenant, by state.", labels=["state"]
    )
    duration = HistogramMetricFamily(
        "scalpel_training_job_duration_seconds",
        "Time from a training job's start to its end, for finished jobs, by final state.",
        labels=["state"],
    )
    for state, row in states.items():
        jobs.add_metric([state], row["count"])
        if state in FINISHED:
            buckets = [(repr(b), n) for b, n in zip(JOB_DURATION_BUCKETS, row["le"], strict=True)]
            duration.add_metric([state], [*buckets, ("+Inf", row["timed"])], row["seconds"])
    by_device = GaugeMetricFamily(
        "scalpel_training_jobs_by_device",
        "Training jobs of every tenant that started training, by kind of device that trained them and state.",
        labels=["device", "state"],
    )
    for (device, state), count in sorted(devices.items()):
        by_device.add_metric([device, state], count)
    return [jobs, duration, by_device], True


class PlatformCollector:
    """Figures of the whole platform, read when scraped (cached for a few seconds)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None

    def collect(self):
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > PLATFORM_CACHE_SECONDS:
                self._cached = (time.monotonic(), self._read())
            return list(self._cached[1])

    def _read(self) -> list:
        families, ok = [], {}
        for source, read in (
            ("queues", _queue_families),
            ("workers", _worker_families),
            ("jobs", _job_families),
        ):
            found, ok[source] = read()
            families += found
        readable = GaugeMetricFamily(
            "scalpel_platform_read_ok",
            "1 when the last scrape could read this part of the platform's state, else 0.",
            labels=["source"],
        )
        for source, good in ok.items():
            readable.add_metric([source], 1 if good else 0)
        return [*families, readable]


_platform = CollectorRegistry(auto_describe=False)
_platform.register(PlatformCollector())


def metrics_text() -> bytes:
    """This node's recorded figures (all its web processes under gunicorn) and the platform's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_platform)
