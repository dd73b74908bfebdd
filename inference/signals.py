"""Writes to a tenant's model registry invalidate the web processes' resolved versions of it."""

from __future__ import annotations

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import tenant_context

from tenants import generations
from tenants.services.tenants import tenant_suspended

from .models import Model, ModelAlias, ModelVersion


def _registry_changed(sender, **kwargs) -> None:
    generations.bump(generations.registry_counter(connection.schema_name))


def _tenant_suspended(sender, tenant, **kwargs) -> None:
    from .services.training.claim import SUSPENDED_REASON
    from .services.training.start import training_jobs_stop_all

    with tenant_context(tenant):
        training_jobs_stop_all(reason=SUSPENDED_REASON, code="tenant_suspended")


def connect() -> None:
    tenant_suspended.connect(_tenant_suspended, dispatch_uid="stop-training-on-suspension")
    for model in (Model, ModelVersion, ModelAlias):
        post_save.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
