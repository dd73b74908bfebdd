"""Writes to a tenant's model registry invalidate the web processes' resolved versions of it, and a
promotion or rollback is sent to the workspace's webhooks."""

from __future__ import annotations

from django.db import connection
from django.db.models.signals import post_delete, post_save

from tenants import generations

from .models import AliasChange, Model, ModelAlias, ModelVersion
from .services.webhooks import webhook_emit

_ALIAS_EVENTS = {"promote": "version.promoted", "rollback": "version.rolled_back"}


def _registry_changed(sender, **kwargs) -> None:
    generations.bump(generations.registry_counter(connection.schema_name))


def _alias_changed(sender, instance: AliasChange, created: bool, **kwargs) -> None:
    # Every promotion and rollback writes one AliasChange row, whichever interface made it.
    event = _ALIAS_EVENTS.get(instance.action)
    if created and event:
        webhook_emit(
            event,
            {
                "model": instance.model.name,
                "alias": instance.alias,
                "from_version": instance.from_version,
                "to_version": instance.to_version,
                "actor": instance.actor,
            },
        )


def connect() -> None:
    for model in (Model, ModelVersion, ModelAlias):
        post_save.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
    post_save.connect(_alias_changed, sender=AliasChange, dispatch_uid="webhook-alias-change")
