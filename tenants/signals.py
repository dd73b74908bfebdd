"""Writes to API keys and tenants invalidate the web processes' in-memory copies of them."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from . import generations
from .models import ApiKey, Tenant


def _keys_changed(sender, **kwargs) -> None:
    generations.bump(generations.API_KEYS)


def connect() -> None:
    for model in (ApiKey, Tenant):
        post_save.connect(_keys_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_keys_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
