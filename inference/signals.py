"""Writes to a tenant's model registry invalidate the web processes' resolved versions of it, and a
promotion or rollback is sent to the workspace's webhooks."""

from __future__ import annotations

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import tenant_context

from tenants import generations
from tenants.services.deletion import tenant_contents, tenant_deleting
from tenants.services.tenants import tenant_suspended

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
def _tenant_suspended(sender, tenant, **kwargs) -> None:
    from .services.training.claim import SUSPENDED_REASON
    from .services.training.start import training_jobs_stop_all

    with tenant_context(tenant):
        training_jobs_stop_all(reason=SUSPENDED_REASON, code="tenant_suspended")


def _tenant_contents(sender, tenant, **kwargs) -> dict:
    """What the tenant's schema holds, for the confirmation before its deletion."""
    from django.contrib.auth import get_user_model

    from .models import Dataset, DatasetVersion, Feedback, PredictionLog, TrainingJob

    with tenant_context(tenant):
        return {
            "datasets": list(Dataset.objects.order_by("name").values_list("name", flat=True)),
            "dataset_versions": DatasetVersion.objects.count(),
            "models": list(Model.objects.order_by("name").values_list("name", flat=True)),
            "model_versions": ModelVersion.objects.count(),
            "training_jobs": TrainingJob.objects.count(),
            "feedback": Feedback.objects.count(),
            "prediction_logs": PredictionLog.objects.count(),
            "users": get_user_model().objects.count(),
        }


def _tenant_deleting(sender, tenant, **kwargs) -> None:
    """Stop the tenant's training and remove this node's cached copies of its model artifacts."""
    import shutil
    from pathlib import Path

    from django.conf import settings

    from .services.runtime_cache import runtime_cache_forget_schema
    from .services.training.start import training_jobs_stop_all

    with tenant_context(tenant):
        training_jobs_stop_all(reason="Stopped: the workspace is being deleted.", code="tenant_deleted")
        checksums = list(
            ModelVersion.objects.exclude(artifact_checksum="").values_list("artifact_checksum", flat=True)
        )
    cache = Path(settings.SCALPEL_ARTIFACT_CACHE_DIR)
    for checksum in checksums:
        shutil.rmtree(cache / checksum, ignore_errors=True)
    runtime_cache_forget_schema(tenant.schema_name)


def connect() -> None:
    tenant_suspended.connect(_tenant_suspended, dispatch_uid="stop-training-on-suspension")
    tenant_contents.connect(_tenant_contents, dispatch_uid="inference-tenant-contents")
    tenant_deleting.connect(_tenant_deleting, dispatch_uid="inference-tenant-deleting")
    for model in (Model, ModelVersion, ModelAlias):
        post_save.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-save")
        post_delete.connect(_registry_changed, sender=model, dispatch_uid=f"gen-{model.__name__}-delete")
    post_save.connect(_alias_changed, sender=AliasChange, dispatch_uid="webhook-alias-change")
