"""Every state change the services make lands in the audit log with its actor, address and object:
a workspace's day of work read back from its log, and the operator's changes beside it."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from console.services import base_model_register
from inference.models import ModelVersion
from inference.services import registry
from inference.services.datasets import dataset_upload, dataset_version_export
from inference.services.training import training_job_cancel, training_job_start
from tenants import services
from tenants.actors import Actor
from tenants.models import AuditEntry
from tests.factories import ModelFactory, csv_bytes, model_version

ADMIN = Actor(kind="user", name="ana@alpha.example", role="admin", ip="192.0.2.10")
OPERATOR = Actor(kind="operator", name="ops", ip="192.0.2.99")


def test_a_workspaces_changes_are_each_recorded_once_with_who_where_and_what(tenant_a, settings):
    settings.SCALPEL_PROMOTION_MIN_METRIC = 0.95
    start = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with tenant_context(tenant_a):
        version = dataset_upload(
            name="tickets", file=csv_bytes(), filename="tickets.csv", task="classification",
            text_column="text", label_column="category", actor=ADMIN,
        )  # fmt: skip
        dataset_version_export(version=version, fmt="csv", actor=ADMIN)
        job = training_job_start(dataset="tickets", model_name="triage", actor=ADMIN)
        training_job_cancel(job=job, actor=ADMIN)

        model = ModelFactory(name="triage")
        v1, v2 = model_version(model, 1, version, value=0.97), model_version(model, 2, version, value=0.5)
        registry.model_version_promote(version=v1, actor=ADMIN)
        registry.model_version_promote(
            version=v2, actor=ADMIN, override_reason="pilot"
        )  # under the 0.95 minimum
        registry.model_rollback(model=model, actor=ADMIN)
        registry.model_alias_remove(model=model, alias="production", actor=ADMIN)
        registry.model_version_delete(version=ModelVersion.objects.get(pk=v2.pk), actor=ADMIN)
    key, _ = services.api_key_create(tenant=tenant_a, name="crm", scopes=["predict"], actor=ADMIN)
    services.api_key_revoke(key=key, actor=ADMIN)
    services.tenant_settings_update(tenant=tenant_a, values={"max_training_jobs_per_day": 7}, actor=OPERATOR)
    services.tenant_suspend(tenant=tenant_a, reason="unpaid", actor=OPERATOR)
    services.tenant_reactivate(tenant=tenant_a, actor=OPERATOR)
    base_model_register(model_id="minilm-l6", name="all-MiniLM-L6-v2", path="", actor=OPERATOR)

    entries = list(AuditEntry.objects.filter(pk__gt=start).order_by("pk"))
    assert [e.action for e in entries] == [
        "dataset.uploaded", "dataset.exported", "training.started", "training.cancelled",
        "model.promoted", "model.promoted_over_gate", "model.rolled_back", "model.alias_removed",
        "model.version_deleted", "api_key.created", "api_key.revoked", "tenant.quotas_changed",
        "tenant.suspended", "tenant.reactivated", "base_model.registered",
    ]  # fmt: skip
    by_action = {e.action: e for e in entries}
    for entry in entries[:11]:
        assert (entry.tenant_id, entry.actor, entry.actor_kind, entry.ip_address) == (
            tenant_a.pk,
            "ana@alpha.example",
            "user",
            "192.0.2.10",
        ), entry.action
    assert by_action["dataset.uploaded"].object_repr == "tickets v1"
    assert by_action["training.started"].object_id == str(job.pk)
    assert by_action["model.promoted_over_gate"].details["override_reason"] == "pilot"
    assert by_action["tenant.quotas_changed"].details == {"max_training_jobs_per_day": [50, 7]}
    assert by_action["tenant.suspended"].actor == "operator:ops"
    assert by_action["base_model.registered"].tenant is None
