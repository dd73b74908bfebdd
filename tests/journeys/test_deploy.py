"""A deployment as docs/operations.md writes it: a fresh database, the documented commands run as
written, the Procfile's processes in production mode behind a (simulated) TLS proxy, then the
whole journey: operator console, a tenant, its dashboard login, upload, training, prediction, and
what operators watch (metrics, probes, logs)."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
import time
from http.cookies import SimpleCookie

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import REPO

from .conftest import Process, free_port, processes_env, python, tiny_csv, wait_http

pytestmark = pytest.mark.slow

API_HOST, BASE = "api.scalpel.test", "scalpel.test"
OPERATOR, OPERATOR_PASSWORD = "ops@scalpel.test", "ops-Pass-77421"
DOCUMENTED_INSTALL = 'pip install ".[s3]"'


def documented_commands() -> list[str]:
    """The shell block after the deploy-commands marker, without comments."""
    text = (REPO / "docs" / "operations.md").read_text()
    block = re.search(r"<!-- deploy-commands.*?-->\s*```sh\n(.*?)```", text, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


class Proxy:
    """What a TLS-terminating proxy in front of the web process sends: Host, X-Forwarded-Proto."""

    def __init__(self, port: int):
        self.port, self.cookies = port, {}

    def call(self, method: str, host: str, path: str, *, https=True, **kwargs) -> requests.Response:
        headers = {"Host": host, **kwargs.pop("headers", {})}
        if https:
            headers["X-Forwarded-Proto"] = "https"
        if self.cookies.get(host):
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies[host].items())
        response = requests.request(
            method,
            f"http://127.0.0.1:{self.port}{path}",
            headers=headers,
            allow_redirects=False,
            timeout=120,
            **kwargs,
        )
        for raw in response.raw.headers.get_all("Set-Cookie") or []:
            morsel = next(iter(SimpleCookie(raw).values()))
            assert morsel["secure"], f"cookie {morsel.key} is not marked Secure"
            self.cookies.setdefault(host, {})[morsel.key] = morsel.value
        return response

    def login(self, host: str, path: str, username: str, password: str) -> requests.Response:
        page = self.call("GET", host, path)
        assert page.status_code == 200, page.text[:500]
        return self.call(
            "POST",
            host,
            path,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookies[host]["csrftoken"],
            },
            headers={"Origin": f"https://{host}", "Referer": f"https://{host}{path}"},
        )


def samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_documented_deployment_serves_the_whole_journey(fresh_database, own_redis, tmp_path, log_dir):
    port = free_port()
    env = processes_env(
        SCALPEL_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        SCALPEL_DATA_DIR=tmp_path / "data",
        DATABASE_URL=fresh_database,
        REDIS_URL=own_redis,
        SCALPEL_BASE_DOMAIN=BASE,
        SCALPEL_PUBLIC_HOSTS=API_HOST,
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        DJANGO_SECURE_HSTS_SECONDS=31536000,
        DJANGO_SUPERUSER_EMAIL=OPERATOR,
        DJANGO_SUPERUSER_PASSWORD=OPERATOR_PASSWORD,
        PORT=port,
        SCALPEL_WORKER_HEARTBEAT_SECONDS=2,
    )
    commands = documented_commands()
    assert commands[0] == DOCUMENTED_INSTALL and commands[-1] == "honcho start", commands
    for command in commands[1:-1]:  # the release is installed already (tests/test_packaging.py builds one)
        done = subprocess.run(
            shlex.split(command), cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    stack = Process("honcho", shlex.split(commands[-1]), env=env, log_dir=log_dir)
    proxy = Proxy(port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=stack, timeout=120)

        # Plain http is sent to https; through the proxy the console answers, with HSTS.
        plain = proxy.call("GET", API_HOST, "/admin/login/", https=False)
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://{API_HOST}/admin/login/"
        login_page = proxy.call("GET", API_HOST, "/admin/login/")
        assert login_page.status_code == 200
        assert login_page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"

        # Static files: hashed names, cached for good, compressed.
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login_page.text).group(1)
        static = proxy.call("GET", API_HOST, css, headers={"Accept-Encoding": "gzip"})
        assert static.status_code == 200 and static.headers["Content-Encoding"] == "gzip"
        assert (
            "max-age=315360000" in static.headers["Cache-Control"]
            and "immutable" in static.headers["Cache-Control"]
        )

        # The operator made by platform_setup signs in through the proxy (CSRF: a trusted https origin).
        signed_in = proxy.login(API_HOST, "/admin/login/", OPERATOR, OPERATOR_PASSWORD)
        assert signed_in.status_code == 302, signed_in.text[:500]  # a refused login or CSRF answers 200/403

        # Both workers beat; the operators' probe says so.
        ready = wait_ready_with_workers(port, stack)
        assert set(ready["checks"]["workers"]["queues"]) == {"default", "training"}
        operations = proxy.call("GET", API_HOST, "/admin/operations/").text
        assert "default@" in operations and "training@" in operations

        # A tenant and a key, with the documented commands; the tenant's admin signs in on its host.
        tenant_cmd = f"{python()} manage.py tenant_create acme --admin-email admin@acme.test --admin-password acme-Pass-5521"
        for command in (tenant_cmd, f"{python()} manage.py apikey_create acme --name deploy"):
            done = subprocess.run(
                shlex.split(command), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr[-3000:]
        key = done.stdout.strip().splitlines()[-1]
        tenant_login = proxy.login(f"acme.{BASE}", "/accounts/login/", "admin@acme.test", "acme-Pass-5521")
        assert tenant_login.status_code == 302, tenant_login.text[:500]

        # The API journey on the public host: upload, train, predict.
        auth = {"Authorization": f"Bearer {key}"}
        uploaded = proxy.call(
            "POST", API_HOST, "/api/v1/datasets/tickets/versions", headers=auth,
            files={"file": ("tickets.csv", tiny_csv(), "text/csv")}, data={"task": "classification"},
        )  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        started = proxy.call(
            "POST", API_HOST, "/api/v1/training-jobs", headers=auth,
            json={"dataset": "tickets", "model": "tickets", "method": "head"},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        job_id = started.json()["id"]
        job = wait_job(proxy, auth, job_id, stack)
        assert job["status"] == "succeeded", job
        for text in ("where is my parcel", "refund me"):
            predicted = proxy.call(
                "POST", API_HOST, "/api/v1/models/tickets/predict", headers={**auth, "X-Request-ID": "journey-42"},
                json={"inputs": [text]},
            )  # fmt: skip
            assert predicted.status_code == 200, predicted.text
            assert predicted.headers["X-Request-ID"] == "journey-42"
        missing = proxy.call("GET", API_HOST, "/api/v1/models/nope", headers=auth)
        assert missing.json()["error"]["request_id"] == missing.headers["X-Request-ID"]

        # What operators watch: Prometheus text, added up over gunicorn's two processes.
        scraped = samples(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text)
        predict_route = ("route", "api/v1/models/<slug:name>/predict")
        assert (
            scraped[("scalpel_http_requests_total", (("method", "POST"), predict_route, ("status", "200")))]
            == 2
        )
        assert scraped[("scalpel_prediction_requests_total", (("model", "tickets"), ("tenant", "acme")))] == 2
        assert scraped[("scalpel_training_jobs", (("state", "succeeded"),))] == 1
        assert scraped[("scalpel_training_job_duration_seconds_count", (("state", "succeeded"),))] == 1
        assert scraped[("scalpel_workers", (("queue", "training"),))] == 1
        # One loaded version in each gunicorn process that served a prediction (two at most).
        assert scraped[("scalpel_runtime_cache_versions", ())] in (1, 2)
    finally:
        stack.stop(timeout=60)

    # JSON logs carrying each request's and task's fields.
    lines = [json.loads(line.split("| ", 1)[1]) for line in stack.log().splitlines() if "| {" in line]
    predictions = [x for x in lines if x.get("event") == "request" and x.get("request_id") == "journey-42"]
    assert len(predictions) == 2 and all(x["tenant"] == "acme" and x["key_prefix"] for x in predictions)
    task = {
        x["event"]: x
        for x in lines
        if x.get("job_id") == job_id and x.get("task") == "inference.tasks.train_model"
    }
    assert {"task started", "task finished"} <= set(task) and task["task finished"]["tenant"] == "acme"
    # A warm shutdown takes the workers' heartbeats away at once.
    assert not list(redis.Redis.from_url(own_redis).scan_iter(match="scalpel:worker:*"))


def wait_ready_with_workers(port: int, stack: Process) -> dict:
    deadline = time.monotonic() + 120
    while True:
        response = requests.get(f"http://127.0.0.1:{port}/readyz?workers=1", timeout=10)
        if response.status_code == 200:
            return response.json()
        assert time.monotonic() < deadline and stack.alive(), (response.json(), stack.log()[-3000:])
        time.sleep(1)


def wait_job(proxy: Proxy, auth: dict, job_id: int, stack: Process) -> dict:
    deadline = time.monotonic() + 300
    while True:
        job = proxy.call("GET", API_HOST, f"/api/v1/training-jobs/{job_id}", headers=auth).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline and stack.alive(), (job, stack.log()[-3000:])
        time.sleep(1)
