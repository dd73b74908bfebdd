"""`manage.py dev [--port 8000]`: the whole platform on one machine, in one command.

Starts the embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset, migrates,
creates the operator and the demo tenant, then runs the web server, a worker for each queue
and the beat scheduler. Ctrl-C stops everything it started.

On its first start it also seeds the demo tenant (sample data, two models training, a predict
key: ``console.demo``), then watches the demo's jobs while it runs, promotes each that succeeds
and prints a ``curl`` call of the demo model once it is live. ``--no-demo`` or SCALPEL_DEMO=0
skip the demo; production never has one.
"""

from __future__ import annotations

import contextlib
import logging
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
from console import demo as console_demo
from core.exceptions import ApplicationError
from tenants.selectors import tenant_get

logger = logging.getLogger("scalpel.demo")

DEMO_POLL_SECONDS = 3.0  # while the demo's models train
DEMO_IDLE_POLL_SECONDS = 15.0  # afterwards, in case `demo_reset` seeds them again


class Command(BaseCommand):
    help = "Run the whole platform locally: services, migrations, demo tenant, web server and workers."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--no-demo",
            action="store_true",
            help="No demo tenant: no sample data, models or key (as SCALPEL_DEMO=0; never in production).",
        )
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
            demo_tenant = self._start(port=port, host=host, demo=not no_demo and console_demo.demo_allowed())
            if exit_after_start:
                self._wait_ready(port)
                return
            if demo_tenant is not None:
                threading.Thread(target=self._demo_watch, args=(port, stopping), daemon=True).start()
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

    def _start(self, *, port: int, host: str, demo: bool):
        self.stdout.write("Starting services…")
        self.started_services = embedded.start()
        for line in embedded.status():
            self.stdout.write("  " + line.line())

        self.stdout.write("Migrating schemas and setting up the platform…")
        creds = bootstrap.bootstrap(demo=demo)
        demo_tenant = None
        if demo:
            try:
                demo_tenant, seeded = console_demo.demo_ensure(creds=creds)
            except ApplicationError as exc:  # e.g. a demo workspace made before, holding other data
                self.stderr.write(f"The demo workspace was not seeded: {exc.message}")
                seeded = False
            if seeded:
                self.stdout.write(
                    "Seeded the demo workspace: two sample datasets, a model training on each, an API key."
                )

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
        return demo_tenant

    def _demo_watch(self, port: int, stopping: threading.Event) -> None:
        """Promote the demo's models as their jobs succeed and say so; print the call once live.

        Runs as long as `dev` does, finding the demo tenant by its slug each time, so that a
        `demo_reset` made while `dev` runs is finished by it too."""
        from django.db import connection

        said: set[str] = set()
        failing = False

        def say(key: str, text: str) -> None:
            if key not in said:
                said.add(key)
                self.stdout.write(text)

        try:
            while not stopping.is_set():
                settled = True
                try:
                    settled = self._demo_check(say, port=port)
                    failing = False
                except Exception:  # noqa: BLE001 - the demo must never stop the platform
                    if not failing:  # once per run of failures, not every few seconds
                        logger.exception("the demo watcher failed; it tries again")
                    failing = True
                    connection.close()
                stopping.wait(DEMO_POLL_SECONDS if not settled else DEMO_IDLE_POLL_SECONDS)
        finally:
            connection.close()

    def _demo_check(self, say, *, port: int) -> bool:
        """One look at the demo: promote what succeeded, say what changed. True when nothing is left to wait for."""
        tenant = tenant_get(slug=bootstrap.DEMO_SLUG)
        if tenant is None or not console_demo.demo_seeded(tenant=tenant):
            return True
        states = console_demo.demo_advance(tenant=tenant)
        for state in states:
            self._demo_report(state, say, tenant=tenant, port=port)
        if all(state.settled for state in states):
            return True
        say(f"{tenant.pk}-training", "Demo: models are training in the background (a minute or two); "
            "the demo workspace's overview shows their progress.")  # fmt: skip
        return False

    def _demo_report(self, state, say, *, tenant, port: int) -> None:
        name, job = state.sample.model, state.job
        if state.refused:
            say(
                f"{tenant.pk}-refused-{name}", f"Demo: {name} was not promoted to production: {state.refused}"
            )
        elif job is not None and job.status in ("failed", "cancelled"):
            say(f"{tenant.pk}-ended-{name}", f"Demo: training {name} {job.status}: {job.error}")
        if state.production is None:
            return
        say(f"{tenant.pk}-live-{name}", f"Demo: {name} v{state.production} is in production.")
        if state.sample is not console_demo.CLASSIFICATION:
            return
        raw_key = bootstrap.credentials_load().get("demo", {}).get("api_key")
        if console_demo.demo_key_usable(tenant=tenant, raw_key=raw_key):
            curl = console_demo.predict_curl(raw_key=raw_key, base_url=f"http://localhost:{port}")
            say(f"{tenant.pk}-curl", f"The demo model answers. Try it:\n\n{curl}\n")
        else:
            say(f"{tenant.pk}-curl", "Demo: no usable demo key (revoked, or not in this data folder's credentials.json): "
                "create one with the predict scope on the demo workspace's API keys page to call the demo model.")  # fmt: skip

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
