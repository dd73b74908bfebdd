"""The Redis client of the request path (rate limits, change counters): shared, and quick to give up.

redis-py retries a failed command with backoff for seconds by default; on the request path an
unreachable Redis must cost milliseconds, after which callers fall back (see their own comments).
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

_client: redis.Redis | None = None
_lock = threading.Lock()


def request_path_redis() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            _client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=1,
                socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 1),  # one reconnect for a dropped connection, no waiting
                health_check_interval=30,
            )
        return _client
