"""Usage metering: requests and texts per tenant, API key and day (UTC), in the public schema.

The API base view records each answered request here; usage pages and the API read it back with
``tenants.selectors.usage_list`` after ``usage_flush``.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger("scalpel.usage")

# Qualified with the public schema: the request's connection searches the tenant's schema first.
_USAGE_UPSERT = """
INSERT INTO public.tenants_usageday (tenant_id, api_key_id, key_prefix, day, requests, texts)
VALUES (%s, %s, %s, %s, 1, %s)
ON CONFLICT (tenant_id, key_prefix, day)
DO UPDATE SET requests = public.tenants_usageday.requests + 1, texts = public.tenants_usageday.texts + EXCLUDED.texts
"""


_USAGE_UPSERT_MANY = """
INSERT INTO public.tenants_usageday (tenant_id, api_key_id, key_prefix, day, requests, texts)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, key_prefix, day)
DO UPDATE SET requests = public.tenants_usageday.requests + EXCLUDED.requests,
              texts = public.tenants_usageday.texts + EXCLUDED.texts
"""


class UsageBuffer:
    """Usage counts summed in memory and written in one statement per flush.

    A busy web node would otherwise spend a database round trip on every answered request. A daemon
    thread flushes every ``SCALPEL_USAGE_FLUSH_SECONDS``; reading usage flushes first, and so does
    process exit (SIGINT, SIGTERM: see ``usage_flush_on_sigterm``, gunicorn's ``worker_exit``, the
    Celery worker's shutdown). A SIGKILL loses what the last interval buffered. A failed flush keeps
    its counts for the next one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[tuple, list[int]] = {}
        self._thread: threading.Thread | None = None
        self.flushes = self.rows_written = 0

    def add(self, *, tenant_id, api_key_id, prefix: str, day, texts: int) -> None:
        with self._lock:
            counts = self._pending.setdefault((tenant_id, api_key_id, prefix, day), [0, 0])
            counts[0] += 1
            counts[1] += texts
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="usage-flush", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _loop(self) -> None:
        # ``connection`` is a per-thread proxy: here it is this thread's own connection.
        while True:
            time.sleep(max(settings.SCALPEL_USAGE_FLUSH_SECONDS, 0.05))
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - counts are kept; retried on the next tick
                logger.exception("usage flush failed; will retry")
                connection.close()

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        rows = [(t, k, p, d, r, n) for (t, k, p, d), (r, n) in pending.items()]
        try:
            with connection.cursor() as cursor:
                cursor.executemany(_USAGE_UPSERT_MANY, rows)
        except Exception:
            with self._lock:  # put the counts back so that nothing is lost
                for key, (r, n) in pending.items():
                    counts = self._pending.setdefault(key, [0, 0])
                    counts[0] += r
                    counts[1] += n
            raise
        with self._lock:
            self.flushes += 1
            self.rows_written += len(rows)
        return len(rows)

    def stats(self) -> dict:
        with self._lock:
            return {
                "pending_rows": len(self._pending),
                "flushes": self.flushes,
                "rows_written": self.rows_written,
                "flush_seconds": settings.SCALPEL_USAGE_FLUSH_SECONDS,
            }


usage_buffer = UsageBuffer()


def usage_record(*, api_key, texts: int) -> None:
    """Count one request (and its texts) for the key's tenant, key and day (UTC).

    Buffered (see ``UsageBuffer``) unless ``SCALPEL_USAGE_FLUSH_SECONDS`` is 0: then written now.
    """
    day = timezone.now().date()
    if settings.SCALPEL_USAGE_FLUSH_SECONDS <= 0:
        with connection.cursor() as cursor:
            cursor.execute(_USAGE_UPSERT, [api_key.tenant_id, api_key.pk, api_key.prefix, day, texts])
        return
    usage_buffer.add(
        tenant_id=api_key.tenant_id, api_key_id=api_key.pk, prefix=api_key.prefix, day=day, texts=texts
    )


def usage_flush() -> None:
    """Write buffered usage now (before usage is read)."""
    usage_buffer.flush()


def usage_buffer_stats() -> dict:
    return usage_buffer.stats()


def usage_record_texts(*, tenant_id: int, api_key_id: int | None, prefix: str, texts: int) -> None:
    """Count one request of ``texts`` texts now (a batch answered by a worker), unbuffered."""
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_UPSERT, [tenant_id, api_key_id, prefix, timezone.now().date(), texts])
def usage_flush_on_sigterm() -> None:
    """Let SIGTERM stop this process the way Ctrl-C does, so that buffered usage is written at exit.

    Python's default for SIGTERM ends the process at once, without ``atexit``: a web server stopped by
    a supervisor (``manage.py dev``, systemd, Kubernetes) lost up to a flush interval of counts. Only
    where nothing handles SIGTERM yet (``runserver``): gunicorn's workers have their own handler and
    flush in the ``worker_exit`` hook (``config/gunicorn.py``), after their last request.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # runserver answers it as Ctrl-C: it exits, and atexit flushes
