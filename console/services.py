"""Writes the operator makes that need the engine: registering the base models tenants train on."""

from __future__ import annotations

from django.db import transaction

from core.exceptions import ApplicationError
from inference.engine.basemodels import DEFAULT_BASE_MODEL_ID, check_base_model_dir
from tenants.actors import Actor
from tenants.models import BaseModel, TrainingQueue
from tenants.services.audit import audit_record

# What the engine reads from an encoder directory, kept on the row for operators and the workers.
_INFO_FIELDS = ("model_type", "hidden_size", "num_layers", "fingerprint")


def base_model_ensure_default() -> BaseModel:
    """The bundled encoder's row (it loads from the package, so it has no path)."""
    model, _ = BaseModel.objects.get_or_create(
        id=DEFAULT_BASE_MODEL_ID,
        defaults={
            "name": "all-MiniLM-L6-v2",
            "description": "Bundled sentence encoder (22M parameters, 6 layers, uncased, English).",
        },
    )
    return model


def base_model_check(*, path: str) -> dict:
    """What the engine reads from a local encoder directory; refused when it cannot load it."""
    try:
        return check_base_model_dir(path)
    except (ValueError, OSError) as exc:
        raise ApplicationError(
            f"This directory cannot be used as a base model: {exc}", code="invalid_base_model", field="path"
        ) from exc


def base_model_register(
    *,
    model_id: str,
    name: str,
    path: str,
    description: str = "",
    is_active: bool | None = None,
    training_queue: str | None = None,
    actor: Actor | str = "system",
) -> BaseModel:
    """Register (or update) a base model; a directory is checked to load first. No path: the bundled one.

    ``training_queue`` (``training`` or ``training-gpu``) is where jobs fine-tuning it go, unless
    their tenant names a queue of its own; None keeps the current one (new rows: ``training``)."""
    if training_queue is not None and training_queue not in TrainingQueue.values:
        raise ApplicationError(
            f"'{training_queue}' is not a training queue: choose {' or '.join(TrainingQueue.values)}.",
            code="invalid_training_queue",
            field="training_queue",
        )
    info = base_model_check(path=path) if path else {}
    defaults = {
        "name": name,
        "path": path,
        "description": description,
        **{field: info[field] for field in _INFO_FIELDS if field in info},
    }
    if is_active is not None:
        defaults["is_active"] = is_active
    if training_queue is not None:
        defaults["training_queue"] = training_queue
    with transaction.atomic():
        model, created = BaseModel.objects.update_or_create(id=model_id, defaults=defaults)
        audit_record(
            action="base_model.registered", actor=actor, tenant=None, obj=model,
            details={"path": path, "created": created, "is_active": model.is_active,
                     "training_queue": model.training_queue},
        )  # fmt: skip
    return model
