"""Helpers for tests that run other processes against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

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
    import signal

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
