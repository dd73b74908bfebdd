"""Change counters in Redis that let every web process keep hot reads in memory, safely.

The predict path would otherwise spend most of its time in the ORM: finding the API key with its
tenant, and resolving a model name and alias to a version, on every request. A process may answer
those from memory only while the counter it read *before* loading them is unchanged. Every write
that could change an answer (a key revoked, a tenant suspended, a version promoted, rolled back or
deleted) bumps the counter right after its transaction commits, so the next request anywhere
reloads: revocation still takes effect on the next request, on every node.

When Redis cannot be read the counter is unknown and callers go to the database, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

import redis
from django.db import transaction

from .redis_client import request_path_redis

logger = logging.getLogger("scalpel.generations")

# How long a process keeps a copy whose counter did not change. Writes through the ORM bump the
# counters and reach every process at once; a write that bypasses them (a queryset ``update()``,
# SQL) reaches every process within this many seconds, as revocations and suspensions must.
MAX_AGE_SECONDS = 5.0

API_KEYS = "gen:apikeys"  # API keys and the tenants they belong to (status, limits)
UNKNOWN = object()  # Redis could not be read: nothing in memory may be trusted


def _redis() -> redis.Redis:
    return request_path_redis()


def registry_counter(schema: str) -> str:
    """The counter of one tenant's model registry (models, versions, aliases)."""
    return f"gen:registry:{schema}"


NEVER = b"0"  # a counter never bumped reads as this (None stays "not read yet" for callers)


def read(name: str):
    """The counter's current value, or ``UNKNOWN`` when Redis cannot be read."""
    try:
        return _redis().get(name) or NEVER
    except redis.RedisError:
        return UNKNOWN


def read_many(names: list[str], pipe) -> None:
    """Queue reads of ``names`` on a Redis pipeline; ``values_of`` turns its results into counters."""
    for name in names:
        pipe.get(name)


def values_of(results: list) -> list:
    return [value or NEVER for value in results]


def bump(name: str) -> None:
    """Invalidate every process's copies of what ``name`` covers, now and once the transaction commits.

    The bump before the commit makes this process (and its transaction) reload at once; the one after
    it covers a process that reloaded in between and read the rows as they were before the commit.
    """
    _bump(name)
    transaction.on_commit(lambda: _bump(name))


def _bump(name: str) -> None:
    try:
        _redis().incr(name)
    except redis.RedisError:
        # The memory copies then live until their TTL; say so loudly, it delays revocations.
        logger.exception("could not bump %s: in-memory copies expire after their TTL only", name)


class GenerationCache:
    """A small thread-safe map whose entries are valid while their counter is unchanged (and young)."""

    def __init__(self, *, ttl_seconds: float, max_entries: int = 10_000):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[object, object, float]] = {}
        self._lock = threading.Lock()

    def get_or_load(
        self,
        key: Hashable,
        counter: str,
        load: Callable[[], object | None],
        *,
        generation=None,
        keep: Callable[[object], bool] | None = None,
    ):
        """``load()`` unless a copy read under the counter's current value exists; None is not kept.

        ``generation``: the counter's value when the caller has just read it (in one round trip with
        other reads); else it is read here. ``keep``: which loaded values may be kept.
        """
        if generation is None:
            generation = read(counter)
        if generation is UNKNOWN or self.ttl <= 0:
            return load()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[1] == generation and now - entry[2] < self.ttl:
            return entry[0]
        value = load()  # read after the counter: a write racing with us bumps it again
        with self._lock:
            if value is None or (keep is not None and not keep(value)):
                self._entries.pop(key, None)
            else:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (value, generation, now)
        return value

    def peek(self, key: Hashable):
        """The value kept for ``key``, valid or not (a hint of what a request is about), or None."""
        with self._lock:
            entry = self._entries.get(key)
        return entry[0] if entry is not None else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
