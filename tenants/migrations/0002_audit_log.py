"""The append-only audit log replaces the operators' audit entries (their rows are carried over)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

# Entries are never changed, and deleted only by the purge of a tenant that is itself being deleted,
# which turns `scalpel.audit_purge` on for its own transaction (tenants.services.audit).
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tenants_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('scalpel.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'The audit log is append-only: % of an entry refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_auditentry_append_only
    BEFORE UPDATE OR DELETE ON tenants_auditentry
    FOR EACH ROW EXECUTE FUNCTION tenants_auditentry_refuse_change();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS tenants_auditentry_append_only ON tenants_auditentry;
DROP FUNCTION IF EXISTS tenants_auditentry_refuse_change();
"""

RENAMED = {
    "tenant_created": "tenant.created",
    "tenant_suspended": "tenant.suspended",
    "tenant_reactivated": "tenant.reactivated",
}


def carry_over(apps, schema_editor):
    old = apps.get_model("tenants", "OperatorAuditEntry")
    new = apps.get_model("tenants", "AuditEntry")
    new.objects.bulk_create(
        new(
            created_at=entry.created_at,
            tenant_id=entry.tenant_id,
            actor_kind="system" if entry.actor in ("system", "cli", "bootstrap") else "operator",
            actor=entry.actor,
            action=RENAMED.get(entry.action, entry.action),
            object_type="tenants.tenant" if entry.tenant_id else "",
            object_id=str(entry.tenant_id or ""),
            details=entry.details or {},
        )
        for entry in old.objects.order_by("pk")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('actor_kind', models.CharField(max_length=20)),
                ('actor', models.CharField(max_length=200)),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                ('action', models.CharField(db_index=True, max_length=100)),
                ('object_type', models.CharField(blank=True, max_length=100)),
                ('object_id', models.CharField(blank=True, max_length=100)),
                ('object_repr', models.CharField(blank=True, max_length=300)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('tenant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='audit_entries', to='tenants.tenant')),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['tenant', '-created_at'], name='audit_tenant_time'),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
        migrations.DeleteModel(
            name='OperatorAuditEntry',
        ),
    ]
