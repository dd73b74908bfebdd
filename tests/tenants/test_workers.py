"""A real worker says it is alive while it runs, logs each task's start and end with its ids, and
takes its heartbeat away when it stops."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from core import logcontext
from tenants import workers
from tests.support import REPO, purge_broker, start_worker, stop_worker, wait_for

LOG = REPO / ".scalpel-test-worker.log"


@pytest.mark.slow
def test_a_worker_beats_logs_its_tasks_with_their_ids_and_leaves_cleanly(live_tenant):
    from celery import current_app

    from inference.services.training.queue import TRAIN_MODEL_TASK

    purge_broker()
    offset = LOG.stat().st_size if LOG.exists() else 0
    name = f"beat-{live_tenant.slug}@test"
    proc = start_worker(name=name, extra_env={"LOG_FORMAT": "json", "SCALPEL_WORKER_HEARTBEAT_SECONDS": "1"})
    try:
        alive = wait_for(
            lambda: [w for w in workers.workers_alive() if w["name"] == name],
            timeout=90,
            message="the worker's heartbeat",
            process=proc,
        )
        assert alive[0]["queues"] == ["default", "training"] and alive[0]["pid"] > 0

        # Sent from a request (its id bound) in the tenant's schema, for a job that does not exist:
        # the task starts, finds nothing to claim, and ends.
        logcontext.context_start(request_id="deploy-check-1")
        with schema_context(live_tenant.schema_name):
            current_app.send_task(TRAIN_MODEL_TASK, args=[987654])
        logcontext.context_clear()

        def task_lines():
            lines = [
                json.loads(line)
                for line in LOG.read_bytes()[offset:].decode().splitlines()
                if line.startswith("{")
            ]
            return [line for line in lines if line.get("task") == TRAIN_MODEL_TASK] or None

        lines = wait_for(
            lambda: (found := task_lines()) and any(x["event"] == "task finished" for x in found) and found,
            timeout=60,
            message="the task's end in the worker's log",
            process=proc,
        )
        started = next(x for x in lines if x["event"] == "task started")
        finished = next(x for x in lines if x["event"] == "task finished")
        for line in (started, finished):
            assert line["job_id"] == 987654
            assert line["tenant"] == live_tenant.slug
            assert line["request_id"] == "deploy-check-1"
            assert line["task_id"] == started["task_id"]
        assert finished["state"] == "SUCCESS" and finished["duration_s"] >= 0
    finally:
        stop_worker(proc)
        purge_broker()
    assert name not in {w["name"] for w in workers.workers_alive()}  # gone at once, not after its TTL
