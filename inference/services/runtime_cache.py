"""The process-wide cache of loaded model versions: LRU within a memory budget, loaded once.

A version is keyed by its tenant schema, id and manifest checksum, so two tenants can never
share an entry and a changed artifact is never served from a stale copy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings

from inference.engine import artifact, runtime
from inference.models import ModelVersion
from tenants.selectors import base_model_dir, base_model_get

from .errors import ServiceError


@dataclass
class CachedRuntime:
    predictor: runtime.Predictor
    bytes: int
    loaded_at: float
    load_seconds: float


class RuntimeCache:
    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple, CachedRuntime] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}
        self.hits = self.misses = self.evictions = 0

    def get(self, *, schema: str, version: ModelVersion) -> runtime.Predictor:
        key = (schema, version.pk, version.artifact_checksum)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.predictor
            load_lock = self._loading.setdefault(key, threading.Lock())
        # One thread loads a cold version; the others wait for it instead of loading it again.
        with load_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.predictor
            self.misses += 1
            entry = self._load(version)
            with self._lock:
                self._entries[key] = entry
                self._loading.pop(key, None)
                self._evict()
            return entry.predictor

    def _load(self, version: ModelVersion) -> CachedRuntime:
        from .registry import local_artifact_dir, manifest_checksum

        started = time.perf_counter()
        directory = local_artifact_dir(version)
        manifest = artifact.load_manifest(directory)
        if manifest_checksum(manifest) != version.artifact_checksum:
            raise ServiceError(
                f"The files of {version} do not match what was registered (checksum mismatch); "
                "it will not be served. Retrain or restore the artifact.",
                code="artifact_corrupt",
                status=500,
            )
        base = base_model_get(model_id=version.base_model_id)
        base_dir = base_model_dir(base) if base else None
        try:
            predictor = runtime.load(directory, base_model_dir=base_dir, verify_checksums=True)
        except artifact.ArtifactError as exc:
            raise ServiceError(
                f"{version} cannot be loaded: {exc}", code="artifact_corrupt", status=500
            ) from exc
        return CachedRuntime(predictor, predictor.memory_bytes(), time.time(), time.perf_counter() - started)

    def _evict(self) -> None:
        total = sum(e.bytes for e in self._entries.values())
        while total > self.budget_bytes and len(self._entries) > 1:
            _, entry = self._entries.popitem(last=False)
            total -= entry.bytes
            self.evictions += 1

    def stats(self) -> dict:
        with self._lock:
            return {
                "loaded": len(self._entries),
                "bytes": sum(e.bytes for e in self._entries.values()),
                "budget_bytes": self.budget_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
            }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache: RuntimeCache | None = None
_cache_lock = threading.Lock()


def runtime_cache() -> RuntimeCache:
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = RuntimeCache(settings.SCALPEL_RUNTIME_CACHE_BYTES)
        return _cache
