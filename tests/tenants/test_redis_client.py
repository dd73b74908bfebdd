"""The request path's Redis client: a frozen Redis costs one short timeout, then is skipped until it answers."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from tenants import redis_client


@pytest.fixture
def frozen_redis(settings):
    """A port that accepts connections and never answers (what a SIGSTOPped Redis looks like)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    settings.REDIS_URL = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    redis_client._client = None
    redis_client.breaker.close()
    yield server
    server.close()
    redis_client._client = None
    redis_client.breaker.close()


def _timed(fn) -> tuple[float, Exception | None]:
    started = time.perf_counter()
    try:
        fn()
    except redis.RedisError as exc:
        return time.perf_counter() - started, exc
    return time.perf_counter() - started, None


def test_a_frozen_redis_costs_one_short_timeout_then_nothing(frozen_redis, settings):
    client = redis_client.request_path_redis()
    first, error = _timed(lambda: client.get("gen:apikeys"))
    assert isinstance(error, redis.TimeoutError)
    assert first < 4 * settings.SCALPEL_REQUEST_REDIS_TIMEOUT_SECONDS + 0.1

    # The breaker is open: commands and pipelines fail at once, without touching the network.
    later, error = _timed(lambda: client.get("gen:apikeys"))
    assert isinstance(error, redis_client.CircuitOpen) and later < 0.005
    pipe = client.pipeline(transaction=False)
    pipe.incr("rl:k:x:1")
    later, error = _timed(pipe.execute)
    assert isinstance(error, redis_client.CircuitOpen) and later < 0.005


def test_the_breaker_closes_once_redis_answers_again(settings):
    redis_client._client = None
    redis_client.breaker.close()
    redis_client.breaker.trip(redis_client._new_client)  # as after a failure; the real Redis answers
    client = redis_client.request_path_redis()
    with pytest.raises(redis_client.CircuitOpen):
        client.get("gen:apikeys")
    deadline = time.monotonic() + 5
    while redis_client.breaker.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not redis_client.breaker.is_open
    client.get("gen:apikeys")
