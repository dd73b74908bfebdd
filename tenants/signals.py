"""Writes to API keys and tenants invalidate the web processes' in-memory copies of them; a deleted
tenant takes its audit entries with it."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete

from . import generations
from .models import ApiKey, Tenant
from .services.audit import audit_tenant_purge


def _keys_changed(sender, **kwargs) -> None:
    generations.bump(generations.API_KEYS)


def _tenant_deleting(sender, instance: Tenant, **kwargs) -> None:
    # A deleted tenant leaves no row behind, its audit entries included; in the same transaction as
    # the tenant row, so a failed deletion keeps them.
    audit_tenant_purge(tenant=instance)


def connect() -> None:
    pre_delete.connect(_tenant_deleting, sender=Tenant, dispatch_uid="audit-purge-tenant")
    for model in (ApiKey, Tenant):
        post_save.connect(_keys_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_keys_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
