"""Rate limits per API key and per tenant: fixed one-minute windows counted in Redis (all web nodes)."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from core.exceptions import ApplicationError

from .redis_client import request_path_redis

logger = logging.getLogger("scalpel.ratelimits")
WINDOW_SECONDS = 60


def counters(api_key, window: int | None = None) -> tuple[str, str]:
    """The Redis keys counting this minute's requests of the key and of its tenant."""
    window = int(time.time() // WINDOW_SECONDS) if window is None else window
    return f"rl:k:{api_key.prefix}:{window}", f"rl:t:{api_key.tenant_id}:{window}"


def count_on(pipe, api_key) -> None:
    """Queue this request's counting on a Redis pipeline (4 results, see ``check``)."""
    for counter in counters(api_key):
        pipe.incr(counter)
        pipe.expire(counter, WINDOW_SECONDS + 1)


def check(*, api_key, counted: list | None = None) -> None:
    """Count the request (unless ``counted`` holds the results of ``count_on``) and refuse it over a limit."""
    if counted is None:
        pipe = request_path_redis().pipeline(transaction=False)
        count_on(pipe, api_key)
        try:
            counted = pipe.execute()
        except redis.RedisError:
            counted = None
    if counted is None:
        # Counting is lost while Redis is away; refusing every call of every tenant would be worse.
        _log_unlimited()
        return
    key_count, _, tenant_count, _ = counted
    per_key = settings.SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE
    per_tenant = api_key.tenant.rate_limit_per_minute or settings.SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE
    if key_count > per_key or tenant_count > per_tenant:
        retry_after = max(1, WINDOW_SECONDS - int(time.time() % WINDOW_SECONDS))
        which = (
            f"this key's limit of {per_key}"
            if key_count > per_key
            else f"your workspace's limit of {per_tenant}"
        )
        raise ApplicationError(
            f"Too many requests: {which} requests per minute. Retry in {retry_after} s.",
            code="rate_limited",
            details={"retry_after": retry_after},  # also sent as the Retry-After header
        )


_unlimited_logged_at = 0.0


def _log_unlimited() -> None:
    global _unlimited_logged_at
    if time.monotonic() - _unlimited_logged_at > 60:  # once a minute, not once a request
        _unlimited_logged_at = time.monotonic()
        logger.exception("Redis unreachable: API calls are not rate limited until it is back")
