"""Platform-wide tables in the public schema: tenants, their domains, API keys, usage, base models, audit."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin


class TrainingQueue(models.TextChoices):
    """The Celery queues training jobs go to: CPU workers consume one, GPU workers the other."""

    CPU = "training", "training (CPU workers)"
    GPU = "training-gpu", "training-gpu (GPU workers)"


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Quotas, set by operators.
    max_concurrent_training_jobs = models.PositiveIntegerField(default=2)
    max_training_jobs_per_day = models.PositiveIntegerField(default=50)
    max_dataset_rows = models.PositiveIntegerField(default=500_000)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: platform default."
    )
    prediction_logging = models.BooleanField(default=False)
    prediction_log_retention_days = models.PositiveIntegerField(default=30)
    # Set by the workspace's owners (on the public row: by operators, for the console).
    require_two_factor = models.BooleanField(
        default=False, help_text="Every user must sign in with a one-time code as well as a password."
    )
    # Set by operators; wins over the base model's queue.
    training_queue = models.CharField(
        max_length=20,
        choices=TrainingQueue.choices,
        blank=True,
        help_text="Where this tenant's training jobs go. Empty: the queue of the job's base model.",
    )

    auto_create_schema = True
    # Suspending or deleting a row must never silently drop a tenant's data.
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class BaseModel(models.Model):
    """An encoder operators make available for fine-tuning, loaded from a local directory."""

    id = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    path = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Local directory with config, tokenizer and safetensors. Empty: the bundled all-MiniLM-L6-v2.",
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    model_type = models.CharField(max_length=100, blank=True)
    hidden_size = models.PositiveIntegerField(null=True, blank=True)
    num_layers = models.PositiveIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    training_queue = models.CharField(
        max_length=20,
        choices=TrainingQueue.choices,
        default=TrainingQueue.CPU,
        help_text="Where jobs fine-tuning this model go, unless their tenant names a queue of its own.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id


class ApiKey(models.Model):
    """A tenant's API key. Only a SHA-256 of the secret is stored, with a short prefix to find it."""

    SCOPES = ("predict", "data", "train", "read", "admin")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class UsageDay(models.Model):
    """Requests and texts served per tenant, key and day."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_days")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_days"
    )
    key_prefix = models.CharField(max_length=16, blank=True)
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    texts = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "key_prefix", "day"], name="usage_unique_tenant_key_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.key_prefix or '-'} {self.day}"


class AuditEntryQuerySet(models.QuerySet):
    """Entries are never edited or deleted through the ORM; the database refuses it too (see the
    ``tenants_auditentry_append_only`` trigger). A tenant's entries go only with the tenant
    (``tenants.services.audit.audit_tenant_purge``)."""

    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("The audit log is append-only: entries cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("The audit log is append-only: entries cannot be deleted.")


class AuditLogIsAppendOnly(Exception):
    """An attempt to change or delete a recorded audit entry (a programming error, never a user's)."""


class AuditEntry(models.Model):
    """One state change: who (actor), when, from where (IP), what (action) to which object, in which tenant.

    Kept in the public schema with a tenant column, so operators read every tenant's log in one
    place, a tenant's own log is one filter (the dashboard, the tenant's export) and a deleted
    tenant's entries are one purge. Entries of the platform itself (an operator's login, a base
    model) have no tenant.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="audit_entries"
    )
    actor_kind = models.CharField(max_length=20)
    actor = models.CharField(max_length=200)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("The audit log is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("The audit log is append-only: entries cannot be deleted.")


class IdempotencyRecord(models.Model):
    """The first answer to an API POST sent with an ``Idempotency-Key``, kept 24 hours so that a retry
    gets it again instead of doing the work twice. One per tenant, API key and client key."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "api_key", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key} ({self.state})"
