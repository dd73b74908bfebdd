"""Helpers shared by test folders: other processes against the test database (a Celery worker, a web
server), waiting for them, and slices of the shared datasets."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

REPO = Path(__file__).resolve().parents[1]
# The password of the users tests make with a role (the ``workspace_user`` fixture).
ROLE_PASSWORD = "pass-role-7391"
DATASETS = Path(os.environ.get("SCALPEL_DATASETS_DIR") or REPO.parent / "shared" / "datasets")


def shared_dataset(relative: str) -> Path:
    """A file of the shared datasets. A test that needs a missing one is skipped, or fails where
    SCALPEL_REQUIRE_DATASETS=1 (CI) says the datasets must be there, so it cannot pass by skipping."""
    import pytest

    path = DATASETS / relative
    if not path.is_file():
        message = f"shared dataset {relative} not found at {path} (set SCALPEL_DATASETS_DIR)"
        if os.environ.get("SCALPEL_REQUIRE_DATASETS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def banking77_slice(labels: int = 6, per_label: int = 20) -> bytes:
    """A CSV (header text,category) with the first ``per_label`` rows of the first ``labels`` intents."""
    rows: dict[str, list[str]] = defaultdict(list)
    with (DATASETS / "banking77" / "train.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            wanted = row["category"] in rows or len(rows) < labels
            if wanted and len(rows[row["category"]]) < per_label:
                rows[row["category"]].append(row["text"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "category"])
    for label, texts in rows.items():
        for text in texts:
            writer.writerow([text, label])
    return out.getvalue().encode()


def wnut17_slice(sentences: int = 80) -> bytes:
    """The first ``sentences`` sentences of the WNUT-17 training file, as CoNLL."""
    blocks, current = [], []
    # Sentence breaks in this file are empty lines or lines holding only a tab.
    for line in (DATASETS / "wnut17" / "wnut17train.conll").read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
            if len(blocks) == sentences:
                break
    return ("\n\n".join(blocks) + "\n").encode()


def worker_database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else f"{user}@"
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def start_worker(queues: str = "default,training", *, name: str | None = None, extra_env: dict | None = None):
    """A real Celery worker process on the test database."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    name = name or f"test-{uuid.uuid4().hex[:6]}@%h"
    log = open(REPO / ".scalpel-test-worker.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "--skip-checks", "worker", "-Q", queues, "-c", "1", "-n", name,
         "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    proc._scalpel_log = log
    return proc


def purge_broker() -> None:
    """Empty the test broker: its queues, and the tasks of workers this suite killed.

    A task taken by a SIGKILLed worker stays in kombu's "unacked" set, and the Redis transport puts
    it back on its queue once the visibility timeout has passed: hours later, into another run's
    worker, where it would train a job of a database that no longer exists.
    """
    from config.celery_app import app

    app.control.purge()
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index", "unacked_mutex")


def stop_worker(proc, *, sig: int = 15, timeout: float = 20) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    proc._scalpel_log.close()


def worker_log_tail(lines: int = 30) -> str:
    path = REPO / ".scalpel-test-worker.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition", process=None):
    """Poll ``predicate`` until it is truthy; fail early if ``process`` (a worker) has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"The worker exited (code {process.returncode}) while waiting for {message}:\n{worker_log_tail()}"
            )
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}\n{worker_log_tail()}")


# ---- a real web server process on the test database, for browser tests (like start_worker) ----

WEB_LOG = REPO / ".scalpel-test-web.log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web_server(timeout: float = 60) -> tuple[subprocess.Popen, int]:
    from django.conf import settings

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(WEB_LOG, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    proc._scalpel_log = log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"The web server exited with code {proc.returncode}; see {WEB_LOG}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return proc, port
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_web_server(proc)
    raise AssertionError(f"The web server did not answer within {timeout}s; see {WEB_LOG}")


def stop_web_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    proc._scalpel_log.close()


class ApiClient:
    """Django's test client speaking JSON (or multipart) to /api/v1 with a Bearer key."""

    def __init__(self, client, key: str | None = None):
        self.client, self.key = client, key

    def call(
        self, method: str, path: str, body=None, *, key: str | None = None, multipart: bool = False, **extra
    ):
        key = key if key is not None else self.key
        if key:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        url = path if path.startswith("/") else f"/api/v1/{path}"
        send = getattr(self.client, method.lower())
        if multipart:
            return send(url, body or {}, **extra)
        if body is None:
            return send(url, **extra)
        return send(url, body, content_type="application/json", **extra)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.call("POST", path, body, **kwargs)


def csv_file(rows, header=("text", "label"), name="data.csv") -> SimpleUploadedFile:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]  # the id to quote to support
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
