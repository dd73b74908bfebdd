"""No training job is lost, whatever happens to Redis or PostgreSQL around it (servers of the test's
own, killed and restarted): a job submitted while the broker is down, a message lost with a Redis
restart, and PostgreSQL restarting while the job trains. Each job runs once, on its first attempt."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import FAULT_API_HOST, Process, fault_env, free_port, gunicorn_web, python, wait_http

pytestmark = pytest.mark.slow


class Api:
    def __init__(self, port: int, key: str):
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.headers = {"Host": FAULT_API_HOST, "Authorization": f"Bearer {key}"}

    def start_job(self, model: str) -> dict:
        response = requests.post(
            f"{self.base}/training-jobs",
            headers=self.headers,
            json={"dataset": "tickets", "model": model, "method": "head"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, job_id: int) -> dict:
        response = requests.get(f"{self.base}/training-jobs/{job_id}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_done(self, job_id: int, *, timeout: float, processes: list[Process]) -> dict:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["status"] in ("queued", "running"):
            dead = [p for p in processes if not p.alive()]
            assert not dead and time.monotonic() < deadline, (job, *(p.log()[-3000:] for p in processes))
            time.sleep(1)
        return job


def celery(name: str, args: list[str], env: dict, log_dir) -> Process:
    return Process(name, [python(), "-m", "celery", "-A", "config", *args], env=env, log_dir=log_dir)


def training_worker(env: dict, log_dir, name: str = "worker") -> Process:
    return celery(
        name,
        ["worker", "-Q", "training", "-c", "1", "-n", f"{name}@%h", "--max-tasks-per-child", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env,
        log_dir,
    )  # fmt: skip


def messages(job: dict) -> str:
    return "\n".join(event["message"] for event in job["events"])


def test_jobs_survive_a_broker_outage_and_messages_lost_with_redis(
    fault_platform, fault_postgres, fault_redis, log_dir
):
    env = fault_env(
        fault_postgres, fault_redis, fault_platform["data_dir"],
        SCALPEL_SWEEP_INTERVAL_SECONDS=1, SCALPEL_JOB_RESEND_SECONDS=4,
    )  # fmt: skip
    port = free_port()
    web = gunicorn_web(env, port, log_dir)
    # The sweep is a beat task run by a worker of the default queue (as `manage.py dev` runs them).
    beat = celery(
        "beat",
        ["worker", "-Q", "default", "-c", "1", "-n", "default@%h", "-B", "-s", str(log_dir / "beat-schedule"),
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env,
        log_dir,
    )  # fmt: skip
    processes = [web, beat]
    api = Api(port, fault_platform["key"])
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=web)

        # Redis down: the job is accepted, queued, and says it is waiting for the broker.
        fault_redis.kill()
        started = time.monotonic()
        unsent = api.start_job("outage-a")
        assert time.monotonic() - started < 10
        assert unsent["status"] == "queued" and "broker is unavailable" in unsent["progress"]["note"]

        # Redis back (empty): the sweep sends it. A second job is sent at once; then Redis restarts
        # without persistence and both messages are lost: the sweep finds them missing and resends.
        fault_redis.start()
        deadline = time.monotonic() + 30
        while "Handed to the training workers" not in messages(api.job(unsent["id"])):
            assert time.monotonic() < deadline and beat.alive(), beat.log()[-3000:]
            time.sleep(0.5)
        sent = api.start_job("outage-b")
        assert "note" not in sent["progress"]
        fault_redis.kill()
        fault_redis.start()

        worker = training_worker(env, log_dir)
        processes.append(worker)
        for job_id in (unsent["id"], sent["id"]):
            job = api.wait_done(job_id, timeout=240, processes=processes)
            assert job["status"] == "succeeded" and job["attempts"] == 1, job
        assert "message to the training workers was lost" in messages(api.job(sent["id"]))
    finally:
        for process in processes:
            process.stop()


def test_a_postgresql_restart_while_a_job_trains_costs_it_nothing(
    fault_platform, fault_postgres, fault_redis, log_dir
):
    env = fault_env(fault_postgres, fault_redis, fault_platform["data_dir"])
    port = free_port()
    web = gunicorn_web(env, port, log_dir)
    worker = training_worker(env, log_dir)
    processes = [web, worker]
    api = Api(port, fault_platform["key"])
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=web)
        job = api.start_job("restart")
        deadline = time.monotonic() + 120
        while api.job(job["id"])["status"] == "queued":
            assert time.monotonic() < deadline and worker.alive(), worker.log()[-3000:]
            time.sleep(0.3)
        fault_postgres.kill()  # the worker holds open connections: they break mid-run
        time.sleep(4)
        fault_postgres.start()
        done = api.wait_done(job["id"], timeout=240, processes=processes)
        assert done["status"] == "succeeded" and done["attempts"] == 1, (done, worker.log()[-3000:])
        # The run waited for the database, or (met where writes are not retried) was queued again
        # without counting the attempt; either way its history names the database.
        assert "The database" in messages(done), messages(done)
    finally:
        fault_postgres.ensure_up()
        for process in processes:
            process.stop()
