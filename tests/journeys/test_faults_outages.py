"""Outages of PostgreSQL and Redis under a running web process (the Procfile's gunicorn): servers of
the test's own are killed and frozen (SIGSTOP). Every answer is a quick 503 ``service_unavailable``
with Retry-After or a success, never a 500 or a hang; a frozen Redis costs cached predictions almost
nothing; /readyz answers within 2 s and says which service is away."""

from __future__ import annotations

import statistics
import time

import pytest
import requests

from .conftest import FAULT_API_HOST, FAULT_HOST, fault_env, free_port, gunicorn_web, wait_http

pytestmark = pytest.mark.slow

TEXTS = ["my parcel never arrived", "refund the double charge"]


class Client:
    def __init__(self, port: int, key: str):
        self.base, self.key = f"http://127.0.0.1:{port}", key

    def call(self, method: str, path: str, *, host: str = FAULT_API_HOST, **kwargs) -> requests.Response:
        headers = {"Host": host, "Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def predict(self) -> tuple[float, requests.Response]:
        started = time.perf_counter()
        response = self.call("POST", "/api/v1/models/tickets/predict", json={"inputs": TEXTS})
        return time.perf_counter() - started, response

    def ready(self) -> tuple[float, requests.Response]:
        started = time.perf_counter()
        response = requests.get(self.base + "/readyz", timeout=30)
        return time.perf_counter() - started, response


def assert_outage(response: requests.Response, service: str) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["Retry-After"]) > 0
    if response.headers["Content-Type"].startswith("application/json"):
        error = response.json()["error"]
        assert error["code"] == "service_unavailable" and error["details"]["service"] == service


def test_outages_answer_503_quickly_and_a_frozen_redis_costs_predictions_almost_nothing(
    fault_platform, fault_postgres, fault_redis, tmp_path, log_dir
):
    port = free_port()
    web = gunicorn_web(fault_env(fault_postgres, fault_redis, fault_platform["data_dir"]), port, log_dir)
    api = Client(port, fault_platform["key"])
    try:
        wait_http(f"{api.base}/healthz", process=web)
        for _ in range(5):  # warm: the runtime loaded, the key and the model resolved in memory
            assert api.predict()[1].status_code == 200
        before = statistics.median(api.predict()[0] for _ in range(15))

        # Redis frozen: connections open, nothing answers.
        fault_redis.freeze()
        first, response = api.predict()
        assert response.status_code == 200 and first < 1.0, (first, response.text[:300])
        timings = []
        for _ in range(15):
            elapsed, response = api.predict()
            assert response.status_code == 200, response.text[:300]
            timings.append(elapsed)
        during = statistics.median(timings)
        assert during <= before + 0.05, (before, during, timings)
        assert max(timings) < 0.5, timings
        took, ready = api.ready()
        assert ready.status_code == 503 and took < 2.0, (took, ready.text)
        assert ready.json()["checks"]["redis"]["ok"] is False
        print(  # the figures docs/operations.md quotes (pytest -rP shows them)
            f"predict median {before * 1000:.1f} ms; Redis frozen: first {first * 1000:.0f} ms, "
            f"median {during * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms; /readyz {took:.2f} s"
        )
        fault_redis.thaw()

        # PostgreSQL down: API calls and pages say 503 with Retry-After, never 500.
        fault_postgres.kill()
        assert_outage(api.call("GET", "/api/v1/datasets"), "database")
        assert_outage(api.call("GET", "/api/v1/training-jobs"), "database")
        page = api.call("GET", "/accounts/login/", host=FAULT_HOST)
        assert_outage(page, "database")
        assert "Temporarily unavailable" in page.text
        took, ready = api.ready()
        assert ready.status_code == 503 and took < 2.0 and ready.json()["checks"]["database"]["ok"] is False
        elapsed, response = api.predict()  # served from memory, or refused as an outage: never a 500
        assert response.status_code in (200, 503), response.text[:300]

        # PostgreSQL back, then frozen: /readyz still answers within 2 s.
        fault_postgres.start()
        deadline = time.monotonic() + 30
        while api.call("GET", "/api/v1/datasets").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover after PostgreSQL came back"
            time.sleep(0.5)
        fault_postgres.freeze()
        for _ in range(2):  # the second while the first check still hangs on the frozen server
            took, ready = api.ready()
            assert ready.status_code == 503 and took < 2.0, (took, ready.text)
        fault_postgres.thaw()
        assert "Traceback" not in web.log() or "Internal Server Error" not in web.log(), web.log()[-3000:]
    finally:
        fault_redis.thaw()
        fault_postgres.ensure_up()
        web.stop()
