"""Which Celery workers are alive: each writes a heartbeat key in Redis that expires on its own.

A worker's main process writes ``scalpel:worker:<name>`` every ``SCALPEL_WORKER_HEARTBEAT_SECONDS``
with a time to live of three beats, and deletes it at a clean shutdown; a worker that was killed or
hangs simply stops refreshing it. Operators read the list in the console, on ``/metrics``
(``scalpel_workers``) and with ``GET /readyz?workers=1`` (503 while a queue has no live worker).
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("scalpel.workers")

KEY_PREFIX = "scalpel:worker:"
QUEUES = ("default", "training")


def _client(timeout: float = 2) -> redis.Redis:
    # No retries: redis-py's default (three, with backoff) turns one timeout into several.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def heartbeat_ttl_seconds() -> int:
    return max(3, int(settings.SCALPEL_WORKER_HEARTBEAT_SECONDS * 3))


def worker_heartbeat_write(*, name: str, queues: list[str], pid: int, started_at: float, client=None) -> None:
    """Say that worker ``name`` (consuming ``queues``) is alive, for the next three beats."""
    body = {
        "name": name,
        "queues": sorted(queues),
        "pid": pid,
        "started_at": started_at,
        "beat_at": time.time(),
    }
    (client or _client()).set(KEY_PREFIX + name, json.dumps(body), ex=heartbeat_ttl_seconds())


def worker_heartbeat_remove(*, name: str, client=None) -> None:
    (client or _client()).delete(KEY_PREFIX + name)


def workers_alive(*, timeout: float = 2) -> list[dict]:
    """Live workers (name, queues, pid, started_at, beat_at, age_seconds), by name. Raises RedisError."""
    client = _client(timeout)
    try:
        keys = sorted(client.scan_iter(match=KEY_PREFIX + "*", count=500))
        values = client.mget(keys) if keys else []
    finally:
        client.close()
    now = time.time()
    workers = []
    for raw in values:
        if raw is None:  # expired between the scan and the read
            continue
        body = json.loads(raw)
        body["age_seconds"] = round(max(0.0, now - body["beat_at"]), 1)
        workers.append(body)
    return workers


def workers_by_queue(workers: list[dict]) -> dict[str, list[str]]:
    """Live workers' names for each queue the platform uses (an empty list: nobody consumes it)."""
    by_queue: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    for worker in workers:
        for queue in worker["queues"]:
            by_queue.setdefault(queue, []).append(worker["name"])
    return by_queue


class HeartbeatThread(threading.Thread):
    """Runs in a worker's main process from ``worker_ready`` to ``worker_shutdown``."""

    def __init__(self, *, name: str, queues: list[str], pid: int):
        super().__init__(name="scalpel-worker-heartbeat", daemon=True)
        self.worker_name, self.queues, self.pid = name, queues, pid
        self.started_at = time.time()
        self.stopping = threading.Event()
        self.failing = False

    def run(self) -> None:
        client = _client()
        while not self.stopping.is_set():
            try:
                worker_heartbeat_write(
                    name=self.worker_name,
                    queues=self.queues,
                    pid=self.pid,
                    started_at=self.started_at,
                    client=client,
                )
                if self.failing:
                    logger.info("worker heartbeat restored")
                self.failing = False
            except redis.RedisError as exc:
                # Logged once per outage; the next beat tries again.
                if not self.failing:
                    logger.warning("worker heartbeat could not be written: %s", exc)
                self.failing = True
            self.stopping.wait(settings.SCALPEL_WORKER_HEARTBEAT_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)  # a beat in flight must not write the key again after it is removed
        try:
            worker_heartbeat_remove(name=self.worker_name)
        except redis.RedisError as exc:
            logger.warning("worker heartbeat could not be removed (it expires by itself): %s", exc)
