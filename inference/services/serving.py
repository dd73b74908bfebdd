"""Predictions for API clients, the playground and the dashboard: one code path for all."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from inference.models import Model, PredictionLog
from inference.selectors.registry import model_version_resolve

from .errors import NotFound, ServiceError
from .runtime_cache import runtime_cache


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


def predict(
    *, model_name: str, inputs: list[str], version: int | str | None = None, top_k: int | None = None, api_key=None
) -> dict:
    """Answer ``inputs`` with a version of the tenant's model (production, else the newest)."""
    _validate_inputs(inputs, top_k)
    model = Model.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"There is no model named '{model_name}'.")
    resolved = model_version_resolve(model=model, ref=version)
    if resolved is None:
        if version in (None, ""):
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

_redis_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis_client


def rate_limit_check(*, api_key) -> None:
    """Fixed one-minute windows per key and per tenant, counted in Redis (shared by all web nodes)."""
    tenant = api_key.tenant
    window = int(time.time() // 60)
    per_key = settings.SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE
    per_tenant = tenant.rate_limit_per_minute or settings.SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE
    key_counter, tenant_counter = f"rl:k:{api_key.prefix}:{window}", f"rl:t:{tenant.pk}:{window}"
    pipe = _redis().pipeline(transaction=False)
    pipe.incr(key_counter)
    pipe.expire(key_counter, 61)
    pipe.incr(tenant_counter)
    pipe.expire(tenant_counter, 61)
    key_count, _, tenant_count, _ = pipe.execute()
    if key_count > per_key or tenant_count > per_tenant:
        retry_after = max(1, 60 - int(time.time() % 60))
        which = f"this key's limit of {per_key}" if key_count > per_key else f"your workspace's limit of {per_tenant}"
        raise ServiceError(
            f"Too many requests: {which} requests per minute. Retry in {retry_after} s.",
            code="rate_limited",
            status=429,
            details={"retry_after": retry_after},
        )


_USAGE_UPSERT = """
INSERT INTO public.tenants_usageday (tenant_id, api_key_id, key_prefix, day, requests, texts)
VALUES (%s, %s, %s, %s, 1, %s)
ON CONFLICT (tenant_id, key_prefix, day)
DO UPDATE SET requests = public.tenants_usageday.requests + 1, texts = public.tenants_usageday.texts + EXCLUDED.texts
"""


def usage_record(*, api_key, texts: int) -> None:
    """Count one request (and its texts) for the key's tenant, key and day (UTC)."""
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_UPSERT, [api_key.tenant_id, api_key.pk, api_key.prefix, timezone.now().date(), texts])
