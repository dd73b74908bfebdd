"""The operator console's operations page shows the live workers and which queue has none."""

from __future__ import annotations

import os

import redis
from django.conf import settings

from tenants import workers


def test_the_operations_page_lists_live_workers_and_a_queue_nobody_consumes(operator_client):
    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in r.scan_iter(match=workers.KEY_PREFIX + "*"):
        r.delete(key)
    workers.worker_heartbeat_write(name="default@node-7", queues=["default"], pid=os.getpid(), started_at=0.0)
    try:
        page = operator_client.get("/admin/operations/").content.decode()
    finally:
        r.delete(workers.KEY_PREFIX + "default@node-7")
    assert "default@node-7" in page
    assert "No live worker consumes: training" in page
