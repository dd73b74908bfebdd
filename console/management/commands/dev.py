"""`manage.py dev [--port 8000]`: the whole platform on one machine, in one command.

Starts the embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset, migrates,
creates the operator and the demo tenant, then runs the web server, a worker for each queue
and the beat scheduler. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from config import embedded, env
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console import bootstrap


class Command(BaseCommand):
    help = "Run the whole platform locally: services, migrations, demo tenant, web server and workers."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo tenant.")
        parser.add_argument(
            "--exit-after-start", action="store_true", help="Start, check readiness, stop (for smoke tests)."
        )

    def handle(self, *args, port, host, no_demo, exit_after_start, **options):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.commands: dict[str, list[str]] = {}
        self.web_restarts: list[float] = []
        self.started_services: dict[str, bool] = {}
        stopping = threading.Event()

        def on_signal(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self._start(port=port, host=host, demo=not no_demo)
            if exit_after_start:
                self._wait_ready(port)
                return
            while not stopping.is_set():
                for name, proc in list(self.children):
                    if proc.poll() is None:
                        continue
                    if name == "web" and self._may_restart_web():
                        self.stderr.write(f"The web process exited (code {proc.returncode}); restarting it.")
                        self.children.remove((name, proc))
                        self._spawn("web", self.commands["web"])
                        continue
                    self.stderr.write(
                        f"The {name} process exited (code {proc.returncode}); stopping everything."
                    )
                    stopping.set()
                    break
                stopping.wait(0.5)
        except embedded.EmbeddedServiceError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            self._shutdown()

    def _start(self, *, port: int, host: str, demo: bool) -> None:
        self.stdout.write("Starting services…")
        self.started_services = embedded.start()
        for line in embedded.status():
            self.stdout.write("  " + line.line())

        self.stdout.write("Migrating schemas and setting up the platform…")
        creds = bootstrap.bootstrap(demo=demo)

        manage = str(settings.BASE_DIR / "manage.py")
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        beat_file = str(env.data_dir() / "celerybeat-schedule")
        self._spawn(
            "web", [sys.executable, manage, "runserver", f"{host}:{port}", "--noreload", "--skip-checks"]
        )
        self._spawn(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                "default",
                "-c",
                "2",
                "-n",
                "default@%h",
                "-B",
                "-s",
                beat_file,
                "-l",
                "INFO",
            ],
        )
        self._spawn(
            "training",
            [*celery, "worker", "-Q", "training", "-c", "1", "-n", "training@%h", "-l", "INFO",
             "--max-tasks-per-child", "1"],
        )  # fmt: skip

        base = f"http://localhost:{port}"
        banner = [
            "",
            "Scalpel is running.",
            f"  Operator console  {base}/admin/   user: {creds['operator']['username']}  password: {creds['operator']['password']}",
        ]
        if demo:
            banner.append(
                f"  Demo workspace    http://demo.localhost:{port}/   user: {creds['demo']['email']}  "
                f"password: {creds['demo']['password']}"
            )
        banner += [
            f"  API               {base}/api/v1/docs/   (create a key: python manage.py apikey_create demo)",
            f"  Data folder       {env.data_dir()}",
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write("\n".join(banner))

    def _may_restart_web(self) -> bool:
        """A crashed web process comes back, unless it keeps crashing (5 times within a minute)."""
        now = time.monotonic()
        self.web_restarts = [t for t in self.web_restarts if now - t < 60] + [now]
        return len(self.web_restarts) <= 5

    def _spawn(self, name: str, cmd: list[str]) -> None:
        self.commands[name] = cmd
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Own session: the terminal's Ctrl-C reaches only this command, which then stops the
        # children in order (web and workers first, databases last).
        proc = subprocess.Popen(
            cmd,
            cwd=settings.BASE_DIR,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
        self.children.append((name, proc))
        threading.Thread(target=self._relay, args=(name, proc), daemon=True).start()

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()

    def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        self.stdout.write("Ready.")
                        return
            except OSError:
                time.sleep(0.5)
        raise CommandError("The web server did not become ready within 60 s.")

    def _shutdown(self) -> None:
        if not self.children and not any(self.started_services.values()):
            return
        self.stdout.write("Stopping…")
        for _, proc in self.children:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _, proc in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group, grandchildren too
            proc.wait()
        self.children = []
        embedded.stop(only=self.started_services)
        self.started_services = {}
        self.stdout.write("Stopped.")
