"""Serving internals: the runtime cache's LRU and statistics, buffered usage, the operator stats view."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from inference.engine.batching import MicroBatcher
from inference.models import ModelVersion
from inference.services import runtime_cache as rc


class FakePredictor:
    task, runtime, method = "classification", "onnx-int8", "head"

    def __init__(self, size):
        self.size = size

    def memory_bytes(self):
        return self.size

    def scores(self, texts, tokens=None):
        return [len(t) for t in texts]

    def answers(self, texts, scores, top_k=None):
        return [{"label": str(s)} for s in scores]


def test_runtime_cache_evicts_least_recently_used_within_its_budget_and_counts(monkeypatch):
    cache = rc.RuntimeCache(250, wait_ms=0, max_texts=8)
    loads = []

    def fake_load(version):
        loads.append(version.pk)
        return rc.CachedRuntime(MicroBatcher(FakePredictor(100)), 100, 0.0, 0.001, "onnx-int8", "head")

    monkeypatch.setattr(cache, "_load", fake_load)
    v = {i: ModelVersion(pk=i, artifact_checksum=f"c{i}") for i in (1, 2, 3)}
    assert cache.get(schema="a", version=v[1]).predict(["xy"]) == [{"label": "2"}]
    cache.get(schema="a", version=v[2])
    cache.get(schema="a", version=v[1])  # hit: 1 is now the most recently used
    cache.get(schema="a", version=v[3])  # 300 > 250 bytes: 2 goes
    cache.get(schema="b", version=v[1])  # another schema is another entry
    stats = cache.stats()
    assert loads == [1, 2, 3, 1]
    assert (stats["hits"], stats["misses"], stats["evictions"]) == (1, 4, 2)
    assert stats["loaded"] == 2 and stats["bytes"] == 200 and stats["budget_bytes"] == 250
    assert stats["by_method_runtime"] == {"head/onnx-int8": 2}
    assert stats["rss_bytes"] > 10_000_000 and stats["microbatch"]["requests"] >= 0


def test_a_cold_version_is_loaded_once_for_concurrent_requests(monkeypatch):
    cache = rc.RuntimeCache(10**9, wait_ms=0)
    gate, loads = threading.Event(), []

    def slow_load(version):
        loads.append(version.pk)
        gate.wait(5)
        return rc.CachedRuntime(MicroBatcher(FakePredictor(1)), 1, 0.0, 0.0)

    monkeypatch.setattr(cache, "_load", slow_load)
    version = ModelVersion(pk=7, artifact_checksum="c")
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get(schema="a", version=version))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert loads == [7] and len({id(g) for g in got}) == 1


def test_buffered_usage_is_summed_and_written_in_one_flush(live_tenant, settings):
    from tenants.models import UsageDay
    from tenants.services import api_key_create
    from tenants.services.usage import UsageBuffer

    settings.SCALPEL_USAGE_FLUSH_SECONDS = 30
    key, _ = api_key_create(tenant=live_tenant, name="buffered")
    buffer = UsageBuffer()
    for texts in (1, 2, 3):
        buffer.add(
            tenant_id=key.tenant_id,
            api_key_id=key.pk,
            prefix=key.prefix,
            day=timezone.now().date(),
            texts=texts,
        )
    assert not UsageDay.objects.filter(key_prefix=key.prefix).exists()
    assert buffer.flush() == 1 and buffer.flush() == 0
    row = UsageDay.objects.get(key_prefix=key.prefix)
    assert (row.requests, row.texts) == (3, 6)
    buffer.add(
        tenant_id=key.tenant_id, api_key_id=key.pk, prefix=key.prefix, day=timezone.now().date(), texts=4
    )
    buffer.flush()
    row.refresh_from_db()
    assert (row.requests, row.texts) == (4, 10) and buffer.stats()["rows_written"] == 2
    UsageDay.objects.filter(key_prefix=key.prefix).delete()


@pytest.mark.django_db
def test_serving_stats_are_for_operators_only(client):
    body = client.get("/metrics/serving").json()  # the test client calls from 127.0.0.1
    assert {"loaded", "bytes", "hits", "misses", "evictions", "rss_bytes", "shared_encoders"} <= set(
        body["runtime_cache"]
    )
    assert client.get("/metrics/serving", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert client.get("/metrics/serving", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403


def test_loaded_versions_stay_out_of_full_collections_and_an_eviction_frees_cycles(monkeypatch):
    """Full garbage collections over many loaded versions stalled requests; evictions must free memory."""
    import gc
    import weakref

    class Weights:  # a version whose objects hold a reference cycle, like a full version does
        def __init__(self):
            self.me = self

    held = []

    def fake_load(version):
        weights = Weights()
        held.append(weakref.ref(weights))
        predictor = FakePredictor(100)
        predictor.weights = weights
        return rc.CachedRuntime(MicroBatcher(predictor), 100, 0.0, 0.001, "onnx", "full")

    cache = rc.RuntimeCache(150, wait_ms=0, max_texts=8)
    monkeypatch.setattr(cache, "_load", fake_load)
    gc.unfreeze()
    try:
        cache.get(schema="a", version=ModelVersion(pk=1, artifact_checksum="c1"))
        assert gc.get_freeze_count() > 0  # what was loaded is frozen: full collections skip it
        cache.get(schema="a", version=ModelVersion(pk=2, artifact_checksum="c2"))  # 200 > 150: 1 goes
        assert held[0]() is None, "the evicted version's cycle was collected, not kept frozen"
        assert held[1]() is not None
    finally:
        gc.unfreeze()
