"""Usage counts buffered by a web process are written when it is stopped with SIGTERM or SIGINT:
gunicorn (the Procfile's web process), runserver, and ``manage.py dev`` stopped with Ctrl-C. The
flush interval is an hour here, so only the exit can have written them."""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from .conftest import FAULT_API_HOST, Process, fault_env, free_port, gunicorn_web, python, wait_http

pytestmark = pytest.mark.slow

REQUESTS = 60


def usage_requests(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT coalesce(sum(requests), 0) FROM public.tenants_usageday").fetchone()[0]


def web_process(kind: str, env: dict, port: int, log_dir) -> Process:
    if kind == "gunicorn":
        return gunicorn_web(env, port, log_dir, workers=2)
    if kind == "runserver":
        cmd = [python(), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    else:  # the whole development stack; its web process is runserver, stopped by dev with SIGTERM
        cmd = [python(), "manage.py", "dev", "--port", str(port), "--no-demo"]
    return Process(kind, cmd, env=env, log_dir=log_dir)


@pytest.mark.parametrize(
    ("kind", "signum"),
    [
        ("gunicorn", signal.SIGTERM),
        ("gunicorn", signal.SIGINT),
        ("runserver", signal.SIGTERM),
        ("runserver", signal.SIGINT),
        ("dev", signal.SIGINT),
    ],
    ids=["gunicorn-sigterm", "gunicorn-sigint", "runserver-sigterm", "runserver-sigint", "dev-ctrl-c"],
)
def test_usage_buffered_in_memory_is_written_when_a_server_stops(
    kind, signum, fault_platform, fault_postgres, fault_redis, log_dir
):
    env = fault_env(fault_postgres, fault_redis, fault_platform["data_dir"], SCALPEL_USAGE_FLUSH_SECONDS=3600)
    if kind == "dev":
        env["SCALPEL_ENV"] = "development"
    port = free_port()
    server = web_process(kind, env, port, log_dir)
    headers = {"Host": FAULT_API_HOST, "Authorization": f"Bearer {fault_platform['key']}"}
    url = f"http://127.0.0.1:{port}/api/v1/models/tickets/predict"
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=server, timeout=180)
        before = usage_requests(fault_postgres.url)

        def predict(_):
            return requests.post(
                url, headers=headers, json={"inputs": ["refund please"]}, timeout=120
            ).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(predict, range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        assert usage_requests(fault_postgres.url) == before  # all still in memory

        server.proc.send_signal(signum)  # to the server's main process, as a terminal or supervisor does
        try:
            server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{kind} did not stop on {signum!r}:\n{server.log()[-3000:]}")
        assert usage_requests(fault_postgres.url) == before + REQUESTS, server.log()[-3000:]
    finally:
        server.stop()
