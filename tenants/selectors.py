"""Reads of the platform tables. Anything that points at a tenant is filtered here."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ApiKey, BaseModel, Tenant, UsageDay


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
