"""Predictions for API clients, the playground and the dashboard: one code path for all."""

from __future__ import annotations

import atexit
import logging
import threading
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from inference.models import Model, ModelVersion, PredictionLog
from inference.selectors.registry import model_version_for_serving
from tenants import generations

from .errors import NotFound, ServiceError
from .runtime_cache import runtime_cache

logger = logging.getLogger("scalpel.serving")


def _validate_inputs(inputs, top_k) -> None:
    if not isinstance(inputs, list) or not inputs:
        raise ServiceError('Send "inputs" as a non-empty list of texts.', details={"inputs": "required"})
    limit = settings.SCALPEL_PREDICT_MAX_BATCH
    if len(inputs) > limit:
        raise ServiceError(
            f"Too many inputs: {len(inputs)} sent, at most {limit} per request. Split them into several requests.",
            code="payload_too_large",
            status=413,
            details={"max_inputs": limit},
        )
    max_chars = settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise ServiceError(f"inputs[{i}] is not a string.", details={"index": i})
        if len(text) > max_chars:
            raise ServiceError(
                f"inputs[{i}] has {len(text)} characters; the limit is {max_chars}. Shorten it.",
                code="payload_too_large",
                status=413,
                details={"index": i, "max_text_length": max_chars},
            )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ServiceError('"top_k" must be a positive integer.', details={"top_k": top_k})


# Resolved versions (model joined) by tenant schema, model name and version reference, valid while
# the tenant's registry is unchanged (see ``tenants.generations``). Shared by threads: read only.
_resolved = generations.GenerationCache(ttl_seconds=60)


def _version_for_serving(name: str, ref, registry_generation=None) -> ModelVersion | None:
    schema = connection.schema_name
    return _resolved.get_or_load(
        (schema, name, str(ref) if ref not in (None, "", "production") else ""),
        generations.registry_counter(schema),
        lambda: model_version_for_serving(name=name, ref=ref),
        generation=registry_generation,
    )


def predict(
    *,
    model_name: str,
    inputs: list[str],
    version: int | str | None = None,
    top_k: int | None = None,
    api_key=None,
    registry_generation=None,
) -> dict:
    """Answer ``inputs`` with a version of the tenant's model (production, else the newest).

    ``registry_generation``: the tenant's registry counter, when the API read it already this request.
    """
    _validate_inputs(inputs, top_k)
    resolved = _version_for_serving(model_name, version, registry_generation)
    model = resolved.model if resolved is not None else Model.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"There is no model named '{model_name}'.")
    if resolved is None:
        if version in (None, "", "production") or not model.versions.exists():
            raise ServiceError(
                f"The model '{model_name}' has no trained version yet. Wait for its training job to finish.",
                code="model_not_ready",
                status=409,
            )
        raise NotFound(f"The model '{model_name}' has no version or alias '{version}'.")
    predictor = runtime_cache().get(schema=connection.schema_name, version=resolved)
    predictions = predictor.predict(inputs, top_k=top_k)
    tenant = connection.tenant
    if getattr(tenant, "prediction_logging", False):
        PredictionLog.objects.bulk_create(
            PredictionLog(
                model_name=model.name, model_version=resolved.number, input=text, output=out,
                api_key_prefix=getattr(api_key, "prefix", ""),
            )
            for text, out in zip(inputs, predictions, strict=True)
        )  # fmt: skip
    return {
        "model": model.name,
        "version": resolved.number,
        "task": model.task,
        "runtime": resolved.runtime,
        "predictions": predictions,
    }


# --- Rate limits and metering ------------------------------------------------------------


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
    process exit. A failed flush keeps its counts for the next one.
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
        from django.db import connection as thread_connection

        while True:
            time.sleep(max(settings.SCALPEL_USAGE_FLUSH_SECONDS, 0.05))
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - counts are kept; retried on the next tick
                logger.exception("usage flush failed; will retry")
                thread_connection.close()

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        rows = [(t, k, p, d, r, n) for (t, k, p, d), (r, n) in pending.items()]
        try:
            from django.db import connection as db

            with db.cursor() as cursor:
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
