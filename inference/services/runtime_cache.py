"""The process-wide cache of loaded model versions: LRU within a memory budget, loaded once.

A version is keyed by its tenant schema, id and manifest checksum, so two tenants can never
share an entry and a changed artifact is never served from a stale copy. Each entry is wrapped in
a micro-batcher (``engine/batching.py``): concurrent requests to one version run as one batch.

Memory: ``head`` versions hold only their linear head (KBs) on one shared base encoder per process
and precision; LoRA versions hold their adapter on the shared torch base; ``full`` versions hold
their own ONNX graph (int8 about 23 MB) or torch weights. Shared bases are reported apart from the
per-version bytes, and ``stats()`` adds the process's resident memory.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from core import metrics
from core.exceptions import ApplicationError
from inference.engine import artifact
from inference.engine.batching import MicroBatcher
from inference.engine.serving import loading, sessions, shared
from inference.models import ModelVersion
from inference.selectors.base_models import base_model_dir
from tenants.selectors import base_model_get

from .registry import local_artifact_dir, manifest_checksum

logger = logging.getLogger("scalpel.serving")


@dataclass
class CachedRuntime:
    predictor: MicroBatcher
    bytes: int
    loaded_at: float
    load_seconds: float
    runtime: str = "torch"
    method: str = ""


class RuntimeCache:
    def __init__(self, budget_bytes: int, *, wait_ms: float | None = None, max_texts: int | None = None):
        self.budget_bytes = budget_bytes
        self.wait_ms = settings.SCALPEL_MICROBATCH_WAIT_MS if wait_ms is None else wait_ms
        self.max_texts = max_texts or settings.SCALPEL_MICROBATCH_MAX_TEXTS
        self._entries: OrderedDict[tuple, CachedRuntime] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}
        self.hits = self.misses = self.evictions = 0
        self.load_seconds_total = 0.0
        self.last_load_seconds: float | None = None

    def _hit(self, key: tuple) -> MicroBatcher | None:
        """The loaded entry for ``key``, marked most recently used (call with the lock held)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        metrics.CACHE_HITS.inc()
        return entry.predictor

    def get(self, *, schema: str, version: ModelVersion) -> MicroBatcher:
        key = (schema, version.pk, version.artifact_checksum)
        with self._lock:
            hit = self._hit(key)
            if hit is not None:
                return hit
            load_lock = self._loading.setdefault(key, threading.Lock())
        # One thread loads a cold version; the others wait for it instead of loading it again.
        with load_lock:
            with self._lock:
                hit = self._hit(key)
                if hit is not None:
                    return hit
                self.misses += 1
            metrics.CACHE_MISSES.inc()
            try:
                entry = self._load(version)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._entries[key] = entry
                self.load_seconds_total += entry.load_seconds
                self.last_load_seconds = entry.load_seconds
                evicted = self._evict()
                self._gauges()
            metrics.CACHE_LOAD_SECONDS.observe(entry.load_seconds)
            _settle_heap(evicted)
            return entry.predictor

    def _load(self, version: ModelVersion) -> CachedRuntime:
        started = time.perf_counter()
        # Every way the files can fail (missing, unreadable, tampered, a base model that changed)
        # is one answer to the client, with no server path in it; the detail goes to the log.
        try:
            directory = local_artifact_dir(version)
            manifest = artifact.load_manifest(directory)
            if manifest_checksum(manifest) != version.artifact_checksum:
                raise artifact.ArtifactError(
                    f"manifest checksum {manifest_checksum(manifest)[:12]} is not the registered "
                    f"{version.artifact_checksum[:12]}"
                )
            base = base_model_get(model_id=version.base_model_id)
            base_dir = base_model_dir(base) if base else None
            predictor = loading.load(
                directory,
                base_model_dir=base_dir,
                verify_checksums=True,
                onnx_cache_dir=str(settings.SCALPEL_ONNX_CACHE_DIR),
            )
        except (artifact.ArtifactError, OSError, ValueError, KeyError) as exc:
            incident = uuid.uuid4().hex[:12]
            logger.error(
                "Version cannot be served, incident %s (tenant=%s model_version=%s id=%s path=%s): %s",
                incident,
                connection.schema_name,
                version,
                version.pk,
                version.artifact_path,
                exc,
                exc_info=True,
            )
            raise ApplicationError(
                f"{version} cannot be served: its files are missing or damaged. Serve another version "
                f"(or retrain), and quote incident {incident} to support.",
                code="artifact_unavailable",
                details={"model": version.model.name, "version": version.number, "incident": incident},
            ) from exc
        batcher = MicroBatcher(predictor, wait_ms=self.wait_ms, max_texts=self.max_texts)
        return CachedRuntime(
            batcher,
            predictor.memory_bytes(),
            time.time(),
            time.perf_counter() - started,
            runtime=predictor.runtime,
            method=predictor.method,
        )

    def _evict(self) -> int:
        total = sum(e.bytes for e in self._entries.values())
        evicted = 0
        while total > self.budget_bytes and len(self._entries) > 1:
            _, entry = self._entries.popitem(last=False)
            total -= entry.bytes
            self.evictions += 1
            evicted += 1
        metrics.CACHE_EVICTIONS.inc(evicted)
        return evicted

    def _gauges(self) -> None:
        """This process's share of the node's runtime-cache gauges (call with the lock held)."""
        metrics.CACHE_BYTES.set(sum(e.bytes for e in self._entries.values()))
        metrics.CACHE_VERSIONS.set(len(self._entries))

    def stats(self) -> dict:
        """What this process serves: loaded versions, their bytes, shared bases, hits, RSS."""
        with self._lock:
            entries = list(self._entries.values())
            out = {
                "loaded": len(entries),
                "bytes": sum(e.bytes for e in entries),
                "budget_bytes": self.budget_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
                "load_seconds_total": round(self.load_seconds_total, 3),
                "last_load_seconds": self.last_load_seconds,
            }
        by_runtime: dict[str, int] = {}
        for e in entries:
            label = f"{e.method}/{e.runtime}"
            by_runtime[label] = by_runtime.get(label, 0) + 1
        out["by_method_runtime"] = by_runtime
        batches = requests = 0
        for e in entries:
            s = e.predictor.stats()
            batches, requests = batches + s["batches"], requests + s["requests"]
        out["microbatch"] = {
            "wait_ms": self.wait_ms,
            "batches": batches,
            "requests": requests,
            "mean_batch_requests": round(requests / batches, 2) if batches else None,
        }
        out.update(shared.shared_encoder_stats())
        out["int8_threads"] = sessions.int8_threads()
        out["shared_torch_bases"] = shared.shared_base_count()
        out["rss_bytes"] = process_rss_bytes()
        out["pid"] = os.getpid()
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._gauges()

    def forget_schema(self, schema: str) -> None:
        """Drop the loaded versions of one tenant (being deleted)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == schema]:
                del self._entries[key]
            self._gauges()


def _settle_heap(evicted: int) -> None:
    """Keep loaded versions out of Python's full garbage collections.

    Every loaded version adds long-lived objects that each full collection walks again: with 1,000
    versions in a process one such collection stopped a request for about 300 ms. Frozen objects are
    skipped. An evicted full version leaves a few reference cycles (holding its weights): after an
    eviction everything is unfrozen and collected once, so its memory really comes back, and frozen
    again.
    """
    if evicted:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def process_rss_bytes() -> int | None:
    """Resident memory of this process (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_cache: RuntimeCache | None = None
_cache_lock = threading.Lock()


def runtime_cache() -> RuntimeCache:
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = RuntimeCache(settings.SCALPEL_RUNTIME_CACHE_BYTES)
        return _cache


def runtime_cache_forget_schema(schema: str) -> None:
    """Drop one tenant's loaded versions from this process, if it has loaded any."""
    if _cache is not None:
        _cache.forget_schema(schema)
