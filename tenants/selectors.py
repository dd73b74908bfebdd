"""Reads of the platform tables. Anything that points at a tenant is filtered here."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import ApiKey, AuditEntry, BaseModel, Tenant, TrainingQueue, UsageDay
from .permissions import ROLES


def tenant_get(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).exclude(schema_name="public").first()


def tenant_list() -> QuerySet[Tenant]:
    return Tenant.objects.exclude(schema_name="public")


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant)


def api_key_get(*, tenant: Tenant, key_id: int) -> ApiKey | None:
    return ApiKey.objects.filter(tenant=tenant, pk=key_id).first()


def usage_list(*, tenant: Tenant) -> QuerySet[UsageDay]:
    return UsageDay.objects.filter(tenant=tenant)


def base_model_get(*, model_id: str) -> BaseModel | None:
    return BaseModel.objects.filter(pk=model_id, is_active=True).first()


def training_queue_for(*, tenant: Tenant | None, base_model_id: str) -> str:
    """The queue a training job goes to: the tenant's when an operator set one, else its base model's."""
    if tenant is not None and getattr(tenant, "training_queue", ""):
        return tenant.training_queue
    queue = BaseModel.objects.filter(pk=base_model_id).values_list("training_queue", flat=True).first()
    return queue or TrainingQueue.CPU


def training_gpu_queue_in_use() -> bool:
    """Whether any tenant or base model sends jobs to the GPU workers' queue."""
    gpu = TrainingQueue.GPU
    return (
        Tenant.objects.filter(training_queue=gpu).exists()
        or BaseModel.objects.filter(training_queue=gpu).exists()
    )


def audit_list(
    *,
    tenant: Tenant | None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """A tenant's audit entries, newest first, filtered (``actor`` matches part of the name)."""
    entries = AuditEntry.objects.filter(tenant=tenant)
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor__icontains=actor)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    return entries


def user_role(user) -> str | None:
    """A workspace user's role (kept as the auth group of that name in the tenant's schema); None: no role."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return None
    if not hasattr(user, "_scalpel_role"):
        names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._scalpel_role = next((role for role in reversed(ROLES) if role in names), None)
    return user._scalpel_role


def member_list() -> list[tuple]:
    """The current workspace's users with their roles, by email (pending invitations included)."""
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    return [(user, next((g.name for g in user.groups.all() if g.name in ROLES), None)) for user in users]
