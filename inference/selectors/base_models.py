"""Where a registered base model loads from, for the workers and the serving runtime."""

from __future__ import annotations

from inference.engine.basemodels import default_base_model_dir
from tenants.models import BaseModel


def base_model_dir(base_model: BaseModel) -> str:
    """The local directory a base model loads from (the bundled encoder's when it has no path)."""
    return base_model.path or default_base_model_dir()
