"""The Redis client of the request path (rate limits, change counters): shared, and quick to give up.

redis-py retries a failed command with backoff for seconds by default; on the request path an
unreachable or frozen Redis must cost milliseconds, after which callers fall back (see their own
comments). Two guards:

- short socket timeouts (``SCALPEL_REQUEST_REDIS_TIMEOUT_SECONDS``, 0.25 s by default), so the
  request that meets the outage waits that long, not a second;
- a circuit breaker: after a connection error or timeout every command fails at once (the callers'
  fallback, without touching the network) until a background probe sees Redis answer again. A
  frozen Redis then costs one timeout per process, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

logger = logging.getLogger("scalpel.redis")

_client: redis.Redis | None = None
_lock = threading.Lock()


class CircuitOpen(redis.ConnectionError):
    """Redis failed a moment ago: the command was not sent (callers treat it as Redis being away)."""


class CircuitBreaker:
    """Open after a failure; closed again by a background probe once Redis answers a PING."""

    def __init__(self, probe_every: float = 1.0):
        self.probe_every = probe_every
        self._open = False
        self._lock = threading.Lock()
        self._probe: threading.Thread | None = None
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    def check(self) -> None:
        if self._open:
            raise CircuitOpen("Redis failed a moment ago; skipped until it answers again")

    def trip(self, client_factory) -> None:
        with self._lock:
            if self._open:
                return
            self._open, self.opened_at = True, time.monotonic()
            logger.warning("Redis unreachable: the request path skips it until it answers again")
            self._probe = threading.Thread(
                target=self._probe_loop, args=(client_factory,), name="redis-breaker", daemon=True
            )
            self._probe.start()

    def close(self) -> None:
        with self._lock:
            self._open = False

    def _probe_loop(self, client_factory) -> None:
        while True:
            time.sleep(self.probe_every)
            client = client_factory()
            try:
                client.ping()
            except redis.RedisError:
                continue
            finally:
                client.close()
            logger.warning("Redis answers again after %.1f s", time.monotonic() - (self.opened_at or 0))
            self.close()
            return


breaker = CircuitBreaker()


class _GuardedPipeline(Pipeline):
    def execute(self, raise_on_error: bool = True):
        breaker.check()
        try:
            return super().execute(raise_on_error)
        except (redis.ConnectionError, redis.TimeoutError):
            breaker.trip(_new_client)
            raise


class GuardedRedis(redis.Redis):
    """A client whose commands and pipelines go through the breaker."""

    def execute_command(self, *args, **options):
        breaker.check()
        try:
            return super().execute_command(*args, **options)
        except (redis.ConnectionError, redis.TimeoutError):
            breaker.trip(_new_client)
            raise

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        return _GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def _new_client(cls=redis.Redis) -> redis.Redis:
    timeout = settings.SCALPEL_REQUEST_REDIS_TIMEOUT_SECONDS
    return cls.from_url(
        settings.REDIS_URL,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),  # one reconnect for a dropped connection, no waiting
        health_check_interval=30,
    )


def request_path_redis() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            _client = _new_client(GuardedRedis)
        return _client
