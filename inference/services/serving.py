"""Predictions for API clients, the playground and the dashboard: one code path for all."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection

from core.exceptions import ApplicationError, NotFound
from inference.models import Model, ModelVersion, PredictionLog
from inference.selectors.registry import model_version_for_serving
from tenants import generations

from .runtime_cache import runtime_cache

logger = logging.getLogger("scalpel.serving")


def _validate_inputs(inputs, top_k) -> None:
    if not isinstance(inputs, list) or not inputs:
        raise ApplicationError('Send "inputs" as a non-empty list of texts.', details={"inputs": "required"})
    limit = settings.SCALPEL_PREDICT_MAX_BATCH
    if len(inputs) > limit:
        raise ApplicationError(
            f"Too many inputs: {len(inputs)} sent, at most {limit} per request. Split them into several requests.",
            code="payload_too_large",
            details={"max_inputs": limit},
        )
    max_chars = settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise ApplicationError(f"inputs[{i}] is not a string.", details={"index": i})
        if len(text) > max_chars:
            raise ApplicationError(
                f"inputs[{i}] has {len(text)} characters; the limit is {max_chars}. Shorten it.",
                code="payload_too_large",
                details={"index": i, "max_text_length": max_chars},
            )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ApplicationError('"top_k" must be a positive integer.', details={"top_k": top_k})


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
            raise ApplicationError(
                f"The model '{model_name}' has no trained version yet. Wait for its training job to finish.",
                code="model_not_ready",
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
