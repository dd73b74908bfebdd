"""`manage.py dev` as a newcomer runs it, on servers of the test's own: 64 clients at once are all
answered, a crashed web process comes back, and Ctrl-C hands a running training job back to the
queue at once without spending an attempt."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import psycopg
import pytest
import requests

from .conftest import FAULT_API_HOST, Process, fault_env, free_port, python, wait_http

pytestmark = pytest.mark.slow


def test_dev_holds_64_clients_restarts_its_web_process_and_stops_training_warm(
    fault_platform, fault_postgres, fault_redis, log_dir
):
    env = fault_env(fault_postgres, fault_redis, fault_platform["data_dir"], SCALPEL_ENV="development")
    port = free_port()
    dev = Process(
        "dev", [python(), "manage.py", "dev", "--port", str(port), "--no-demo"], env=env, log_dir=log_dir
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Host": FAULT_API_HOST, "Authorization": f"Bearer {fault_platform['key']}"}
    try:
        wait_http(f"{base}/healthz", process=dev, timeout=180)

        # 64 clients connect at the same moment: every one is answered.
        barrier, statuses = threading.Barrier(64), []

        def client():
            barrier.wait()
            try:
                statuses.append(
                    requests.get(f"{base}/api/v1/models", headers=headers, timeout=60).status_code
                )
            except requests.RequestException as exc:
                statuses.append(type(exc).__name__)

        threads = [threading.Thread(target=client) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 64, statuses

        # The web process dies: dev starts it again and keeps the rest running.
        web_pid = int(subprocess.run(["pgrep", "-f", f"runserver 127.0.0.1:{port}"], capture_output=True, text=True,
                                     check=True).stdout.split()[0])  # fmt: skip
        subprocess.run(["kill", "-9", str(web_pid)], check=True)
        time.sleep(1)
        wait_http(f"{base}/healthz", process=dev, timeout=120)
        assert dev.alive() and "restarting it" in dev.log()

        # A long job runs; Ctrl-C: the job is queued again at once, its attempt not counted.
        started = requests.post(
            f"{base}/api/v1/training-jobs",
            headers=headers,
            json={
                "dataset": "tickets",
                "model": "ctrl-c",
                "method": "full",
                # Long enough to be caught mid-run: no early stop.
                "hyperparameters": {"epochs": 200, "early_stopping_patience": 0},
            },
            timeout=60,
        )
        assert started.status_code == 201, started.text
        job_url = f"{base}/api/v1/training-jobs/{started.json()['id']}"
        deadline = time.monotonic() + 180
        while requests.get(job_url, headers=headers, timeout=30).json()["progress"].get("phase") not in (
            "training",
            "validating",
        ):
            assert time.monotonic() < deadline and dev.alive(), dev.log()[-3000:]
            time.sleep(0.5)
        dev.proc.send_signal(signal.SIGINT)
        dev.proc.wait(timeout=60)
        with psycopg.connect(fault_postgres.url) as conn:
            status, attempts = conn.execute(
                "SELECT status, attempts FROM t_acme.inference_trainingjob WHERE id = %s",
                [started.json()["id"]],
            ).fetchone()
            events = [row[0] for row in conn.execute(
                "SELECT message FROM t_acme.inference_trainingjobevent WHERE job_id = %s", [started.json()["id"]]
            )]  # fmt: skip
        assert (status, attempts) == ("queued", 0), (status, attempts, events, dev.log()[-3000:])
        assert any("worker was stopped" in message for message in events), events
    finally:
        dev.stop()
        with psycopg.connect(
            fault_postgres.url
        ) as conn:  # frees the tenant's concurrency slot for later tests
            conn.execute(
                "UPDATE t_acme.inference_trainingjob SET status = 'cancelled' WHERE status IN ('queued', 'running')"
            )
