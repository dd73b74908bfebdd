"""`/readyz?workers=1`: operators' probe of the workers, from their heartbeats in Redis."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings

from tenants import workers


@pytest.fixture
def no_workers():
    """No heartbeat in this test's Redis, and none left behind."""
    client = redis.Redis.from_url(settings.REDIS_URL)

    def clear():
        for key in client.scan_iter(match=workers.KEY_PREFIX + "*"):
            client.delete(key)

    clear()
    yield
    clear()


def _beat(name: str, queues: list[str]) -> None:
    workers.worker_heartbeat_write(name=name, queues=queues, pid=os.getpid(), started_at=0.0)


def test_plain_readyz_ignores_workers(client, db, no_workers):
    response = client.get("/readyz")
    assert response.status_code == 200 and "workers" not in response.json()["checks"]


def test_a_queue_without_a_live_worker_is_not_ready_and_named(client, db, no_workers):
    _beat("default@node-1", ["default"])
    response = client.get("/readyz?workers=1")
    assert response.status_code == 503
    check = response.json()["checks"]["workers"]
    assert check["ok"] is False and check["error"] == "no live worker for training"
    assert check["queues"] == {"default": ["default@node-1"], "training": []}
    # A deployment without training workers asks only for the queues it runs.
    assert client.get("/readyz?workers=default").status_code == 200


def test_every_queue_with_a_live_worker_is_ready(client, db, no_workers):
    _beat("default@node-1", ["default"])
    _beat("training@gpu-1", ["training"])
    response = client.get("/readyz?workers=1")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["workers"]["queues"]["training"] == ["training@gpu-1"]


def test_a_heartbeat_expires_on_its_own(db, no_workers, settings):
    settings.SCALPEL_WORKER_HEARTBEAT_SECONDS = 0.5  # three missed beats: the key lives 3 s at least
    _beat("default@gone", ["default"])
    client = redis.Redis.from_url(settings.REDIS_URL)
    ttl = client.ttl(workers.KEY_PREFIX + "default@gone")
    assert 0 < ttl <= workers.heartbeat_ttl_seconds()
    assert [w["name"] for w in workers.workers_alive()] == ["default@gone"]


def test_readyz_says_so_when_heartbeats_cannot_be_read(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz?workers=1")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["ok"] is False
