"""Writes to a tenant's model registry invalidate the web processes' resolved versions of it."""

from __future__ import annotations

from django.db import connection
from django.db.models.signals import post_delete, post_save

from tenants import generations

from .models import Model, ModelAlias, ModelVersion


def _registry_changed(sender, **kwargs) -> None:
    generations.bump(generations.registry_counter(connection.schema_name))


def connect() -> None:
    for model in (Model, ModelVersion, ModelAlias):
        post_save.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
