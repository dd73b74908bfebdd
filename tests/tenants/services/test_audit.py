"""The audit log: one function records a change with its actor, address, object and tenant; nothing
edits or deletes an entry, except the deletion of the tenant it belongs to."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import tenant_context

from tenants import services
from tenants.actors import Actor
from tenants.models import AuditEntry, AuditLogIsAppendOnly, Tenant
from tenants.selectors import audit_list, tenant_get


def test_an_entry_names_actor_address_object_and_the_tenant_of_the_current_schema(tenant_a):
    actor = Actor(kind="user", name="ana@alpha.example", role="admin", ip="203.0.113.7")
    with tenant_context(tenant_a):
        entry = services.audit_record(action="member.invited", actor=actor, obj="bob@alpha.example")
    entry.refresh_from_db()
    assert (entry.tenant, entry.actor_kind, entry.actor) == (tenant_a, "user", "ana@alpha.example")
    assert (entry.ip_address, entry.object_repr) == ("203.0.113.7", "bob@alpha.example")
    assert list(audit_list(tenant=tenant_a, action="member.invited")) == [entry]


def test_an_entry_made_on_the_public_schema_belongs_to_no_tenant(db):
    entry = services.audit_record(action="base_model.registered", actor="cli", obj="minilm-l6")
    assert entry.tenant is None and entry.actor_kind == "system" and entry.actor == "cli"


def test_a_model_instance_is_recorded_by_type_id_and_name(tenant_a):
    entry = services.audit_record(action="tenant.suspended", actor="ops", tenant=tenant_a, obj=tenant_a)
    assert (entry.object_type, entry.object_id, entry.object_repr) == (
        "tenants.tenant",
        str(tenant_a.pk),
        "alpha",
    )


def test_an_unknown_action_is_refused_rather_than_written(db):
    with pytest.raises(ValueError, match="unknown audit action"):
        services.audit_record(action="model.promotd", actor="cli")
    assert not AuditEntry.objects.filter(action="model.promotd").exists()


def test_an_entry_cannot_be_edited_or_deleted_through_the_orm(tenant_a):
    entry = services.audit_record(action="tenant.reactivated", actor="ops", tenant=tenant_a)
    entry.action = "tenant.created"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(actor="someone else")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "tenant.reactivated"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tenants_auditentry SET actor = 'someone else' WHERE id = %s",
        "DELETE FROM tenants_auditentry WHERE id = %s",
    ],
)
def test_the_database_refuses_an_update_or_delete_in_sql(tenant_a, sql):
    entry = services.audit_record(action="tenant.reactivated", actor="ops", tenant=tenant_a)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).actor == "ops"


def test_a_change_rolled_back_leaves_no_entry(tenant_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.audit_record(action="tenant.suspended", actor="ops", tenant=tenant_a)
        raise RuntimeError("the change failed")
    assert not audit_list(tenant=tenant_a, action="tenant.suspended").exists()


def test_deleting_a_tenant_deletes_its_entries_and_no_other(live_db):
    tenant_a = tenant_get(slug="alpha")
    slug = f"gone-{uuid.uuid4().hex[:6]}"
    tenant = services.tenant_create(slug=slug, actor="ops")
    services.audit_record(action="tenant.suspended", actor="ops", tenant=tenant)
    kept = services.audit_record(action="tenant.reactivated", actor="ops", tenant=tenant_a)
    assert audit_list(tenant=tenant).count() == 2
    tenant_id = tenant.pk
    connection.set_schema_to_public()
    tenant.delete(force_drop=True)
    assert not Tenant.objects.filter(pk=tenant_id).exists()
    assert not AuditEntry.objects.filter(tenant_id=tenant_id).exists()
    # The purge was for that deletion only: entries stay protected afterwards.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM tenants_auditentry WHERE id = %s", [kept.pk])
    assert AuditEntry.objects.filter(pk=kept.pk).exists()
