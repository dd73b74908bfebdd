"""`GET /metrics`: Prometheus text of the node's requests, predictions and cache, and of the
platform's queues, workers and training jobs; for operators only."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings
from django_tenants.utils import schema_context
from prometheus_client.parser import text_string_to_metric_families

from console import metrics as console_metrics
from inference.engine.batching import MicroBatcher
from inference.services import runtime_cache as rc
from inference.services import serving
from tenants import workers
from tenants.services import api_key_create
from tests.factories import ModelVersionFactory


def scrape(client, **extra) -> dict:
    """{(name, labels as a sorted tuple): value} of one scrape."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def fresh_platform_figures(monkeypatch):
    monkeypatch.setattr(console_metrics, "PLATFORM_CACHE_SECONDS", 0.0)


def test_only_operators_may_read_metrics(client, db, settings):
    settings.SCALPEL_METRICS_TOKEN = "metrics-token-1"
    outside = {"REMOTE_ADDR": "10.0.0.7"}
    assert client.get("/metrics", **outside).json()["error"]["code"] == "forbidden"
    # A proxy on the same machine is not the node's own scraper.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-1", **outside).status_code == 200
    assert client.get("/metrics").status_code == 200  # loopback


def test_requests_are_counted_by_url_pattern_not_by_path(client, db):
    before = scrape(client)
    client.get("/api/v1/models/intents/versions/3")
    client.get("/api/v1/models/sentiment/versions/12")
    client.get("/no/such/page/at/all")
    after = scrape(client)
    route = "api/v1/models/<slug:name>/versions/<int:n>"
    labels = {"route": route, "method": "GET", "status": "401"}
    assert (
        value(after, "scalpel_http_requests_total", **labels)
        - value(before, "scalpel_http_requests_total", **labels)
        == 2
    )
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "scalpel_http_requests_total", **unmatched) > value(
        before, "scalpel_http_requests_total", **unmatched
    )
    http = [key for key in after if key[0].startswith("scalpel_http_")]
    assert http and not any("intents" in str(key) or "/no/such" in str(key) for key in http)
    assert value(after, "scalpel_http_request_duration_seconds_count", route=route, method="GET") >= 2


class FakePredictor:
    task, runtime, method = "classification", "onnx-int8", "head"

    def memory_bytes(self):
        return 1234

    def scores(self, texts, tokens=None):
        return [0.5 for _ in texts]

    def answers(self, texts, scores, top_k=None):
        return [{"label": "a", "score": s} for s in scores]


def test_predictions_and_the_runtime_cache_are_counted(client, tenant_a, a_dataset_version, monkeypatch):
    cache = rc.RuntimeCache(10**9, wait_ms=0)
    monkeypatch.setattr(
        cache, "_load", lambda version: rc.CachedRuntime(MicroBatcher(FakePredictor()), 1234, 0.0, 0.01)
    )
    monkeypatch.setattr(serving, "runtime_cache", lambda: cache)
    with schema_context(tenant_a.schema_name):
        ModelVersionFactory(
            model__name="metered",
            artifact_path="x",
            artifact_checksum="c" * 64,
            labels=["a"],
            dataset_version=a_dataset_version,
        )
    _, raw = api_key_create(tenant=tenant_a, name="metrics", scopes=["predict"])
    before = scrape(client)
    for inputs in (["one"], ["two", "three"]):
        response = client.post(
            "/api/v1/models/metered/predict",
            {"inputs": inputs},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    labels = {"tenant": tenant_a.slug, "model": "metered"}
    assert grew("scalpel_prediction_requests_total", **labels) == 2
    assert grew("scalpel_prediction_texts_total", **labels) == 3
    assert grew("scalpel_runtime_cache_misses_total") == 1 and grew("scalpel_runtime_cache_hits_total") == 1
    assert (
        value(after, "scalpel_runtime_cache_bytes") == 1234
        and value(after, "scalpel_runtime_cache_versions") == 1
    )


def test_platform_figures_queues_workers_and_jobs_by_state(client, db, make_job):
    r = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in r.scan_iter(match=workers.KEY_PREFIX + "*"):
        r.delete(key)
    workers.worker_heartbeat_write(
        name="training@gpu-1", queues=["training"], pid=os.getpid(), started_at=0.0
    )
    before = scrape(client)
    make_job("queued")
    make_job("succeeded", seconds=90)
    make_job("succeeded", seconds=900)
    make_job("failed", seconds=20)
    after = scrape(client)
    r.delete(workers.KEY_PREFIX + "training@gpu-1")

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("scalpel_training_jobs", state="queued") == 1
    assert grew("scalpel_training_jobs", state="succeeded") == 2
    duration = "scalpel_training_job_duration_seconds"
    assert grew(f"{duration}_bucket", state="succeeded", le="60.0") == 0
    assert grew(f"{duration}_bucket", state="succeeded", le="120.0") == 1
    assert grew(f"{duration}_bucket", state="succeeded", le="+Inf") == 2
    assert grew(f"{duration}_count", state="succeeded") == 2
    assert grew(f"{duration}_sum", state="succeeded") == pytest.approx(990, abs=2)
    assert grew(f"{duration}_bucket", state="failed", le="30.0") == 1
    assert value(after, "scalpel_workers", queue="training") == 1
    assert value(after, "scalpel_workers", queue="default") == 0
    assert value(after, "scalpel_worker_heartbeat_age_seconds", worker="training@gpu-1") < 5
    assert ("scalpel_queue_messages", (("queue", "training"),)) in after
    assert {value(after, "scalpel_platform_read_ok", source=s) for s in ("queues", "workers", "jobs")} == {
        1.0
    }


def test_an_unreachable_redis_is_reported_not_raised(client, db, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    after = scrape(client)
    assert value(after, "scalpel_platform_read_ok", source="workers") == 0
    assert value(after, "scalpel_platform_read_ok", source="queues") == 0
    assert value(after, "scalpel_platform_read_ok", source="jobs") == 1


def test_jobs_are_counted_by_the_kind_of_device_that_trained_them(client, db, tenant_a, make_job):
    before = scrape(client)
    for status, device in (
        ("succeeded", "cpu"),
        ("succeeded", "cuda:0"),
        ("running", "cuda:1"),
        ("queued", ""),
    ):
        job = make_job(status)
        with schema_context(tenant_a.schema_name):
            type(job).objects.filter(pk=job.pk).update(device=device)
    after = scrape(client)

    def grew(**labels):
        name = "scalpel_training_jobs_by_device"
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(device="cpu", state="succeeded") == 1
    assert grew(device="cuda", state="succeeded") == 1
    assert grew(device="cuda", state="running") == 1
    assert grew(device="", state="queued") == 0, "a job that never started training has no device"
