"""A thread that keeps a running job's heartbeat fresh while long steps run without yielding.

The sweep (``sweep.py``) re-queues a running job whose heartbeat is older than
``SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS``; evaluation and export can take minutes without a
progress step, so the beat cannot ride on progress writes alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from django.db import connection
from django.utils import timezone

from inference.models import TrainingJob

from .claim import owned

logger = logging.getLogger("scalpel.training")

HEARTBEAT_SECONDS = 5.0


class Heartbeat(threading.Thread):
    """Keeps the job's heartbeat fresh while long steps (evaluation, export) run without yielding."""

    def __init__(self, job: TrainingJob, tenant):
        super().__init__(daemon=True, name=f"heartbeat-{job.pk}")
        self.job, self.tenant = job, tenant
        self.stop_event = threading.Event()

    def run(self):
        # ``connection`` is a per-thread proxy: here it is this thread's own connection.
        connection.set_tenant(self.tenant)
        try:
            while not self.stop_event.wait(HEARTBEAT_SECONDS):
                try:
                    self.beat()
                except Exception:  # noqa: BLE001 - one missed beat is harmless; a dead thread is not
                    # A dropped connection or a database restart: closing the broken connection
                    # makes the next beat open a fresh one (the tenant stays set on the wrapper).
                    logger.warning(
                        "heartbeat of training job %s failed; retrying", self.job.pk, exc_info=True
                    )
                    with contextlib.suppress(Exception):
                        connection.close()
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def beat(self) -> None:
        owned(self.job).update(heartbeat_at=timezone.now())

    def stop(self):
        self.stop_event.set()
        self.join(timeout=HEARTBEAT_SECONDS + 1)
