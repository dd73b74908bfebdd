"""Predictions for API clients, the playground and the dashboard: one code path for all."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection

from core import metrics
from core.exceptions import SEE_DETAILS, ApplicationError, NotFound
from inference.models import Model, ModelVersion, PredictionLog
from inference.selectors.registry import model_version_for_serving
from tenants import generations
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check

from .monitoring import stats_record
from .runtime_cache import runtime_cache

logger = logging.getLogger("scalpel.serving")


PREDICT_MAX_TOP_K = 1000


def predict_inputs_check(*, inputs: list[str], top_k: int | None = None) -> None:
    """Every rule a prediction request keeps, checked before a model is touched.

    The API's serializer only reads the JSON types (a list of strings, an integer); the rules and
    limits are here, for every caller. Field refusals name the field in ``details``; a batch or a
    text over the limits is ``payload_too_large`` naming the limit.
    """
    problems = {}
    if not inputs:
        problems["inputs"] = ["This list may not be empty."]
    if top_k is not None and top_k < 1:
        problems["top_k"] = ["Ensure this value is greater than or equal to 1."]
    elif top_k is not None and top_k > PREDICT_MAX_TOP_K:
        problems["top_k"] = [f"Ensure this value is less than or equal to {PREDICT_MAX_TOP_K}."]
    if problems:
        raise ApplicationError(SEE_DETAILS, details=problems)
    limit = settings.SCALPEL_PREDICT_MAX_BATCH
    if len(inputs) > limit:
        raise ApplicationError(
            f"Too many inputs: {len(inputs)} sent, at most {limit} per request. Split them into several requests.",
            code="payload_too_large",
            details={"max_inputs": limit},
        )
    max_chars = settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH
    for i, text in enumerate(inputs):
        if len(text) > max_chars:
            raise ApplicationError(
                f"inputs[{i}] has {len(text)} characters; the limit is {max_chars}. Shorten it.",
                code="payload_too_large",
                details={"index": i, "max_text_length": max_chars},
            )


# Resolved versions (model joined) by tenant schema, model name and version reference, valid while
# the tenant's registry is unchanged (see ``tenants.generations``). Shared by threads: read only.
_resolved = generations.GenerationCache(ttl_seconds=generations.MAX_AGE_SECONDS)


def _version_for_serving(name: str, ref, registry_generation=None) -> ModelVersion | None:
    schema = connection.schema_name
    return _resolved.get_or_load(
        (schema, name, str(ref) if ref not in (None, "", "production") else ""),
        generations.registry_counter(schema),
        lambda: model_version_for_serving(name=name, ref=ref),
        generation=registry_generation,
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def predict(
    *,
    model_name: str,
    inputs: list[str],
    version: int | str | None = None,
    top_k: int | None = None,
    api_key=None,
    registry_generation=None,
    actor: Actor | str = "",
) -> dict:
    """Answer ``inputs`` with a version of the tenant's model (production, else the newest).

    ``registry_generation``: the tenant's registry counter, when the API read it already this request.
    """
    permission_check(actor=as_actor(actor), action="predict")  # a dict lookup: nothing on the hot path
    predict_inputs_check(inputs=inputs, top_k=top_k)
    resolved = _version_for_serving(model_name, version, registry_generation)
    model = resolved.model if resolved is not None else Model.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"There is no model named '{model_name}'.")
    if resolved is None:
        if version in (None, "", "production") or not model.versions.exists():
            raise ApplicationError(
                f"The model '{model_name}' has no trained version yet. Wait for its training job to finish.",
                code="model_not_ready",
            )
        raise NotFound(f"The model '{model_name}' has no version or alias '{version}'.")
    started = time.perf_counter()
    try:
        predictor = runtime_cache().get(schema=connection.schema_name, version=resolved)
        predictions = predictor.predict(inputs, top_k=top_k)
    except Exception:
        stats_record(model=model.name, version=resolved.number, latency_ms=_ms(started), error=True)
        raise
    stats_record(model=model.name, version=resolved.number, latency_ms=_ms(started), predictions=predictions)
    tenant = connection.tenant
    metrics.prediction_observe(
        tenant=getattr(tenant, "slug", connection.schema_name), model=model.name, texts=len(inputs)
    )
    if model.prediction_logging or getattr(tenant, "prediction_logging", False):
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
