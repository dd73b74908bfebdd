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


def base_model_dir(base_model: BaseModel) -> str:
    """The local directory a base model loads from."""
    if base_model.path:
        return base_model.path
    from inference.engine.basemodels import default_base_model_dir

    return default_base_model_dir()


def platform_jobs_overview(*, limit_per_tenant: int = 20) -> list[dict]:
    """Recent and active training jobs of every tenant, for operators (read schema by schema)."""
    from django_tenants.utils import tenant_context

    from inference.models import TrainingJob

    rows = []
    for tenant in tenant_list():
        with tenant_context(tenant):
            for job in TrainingJob.objects.select_related("dataset_version__dataset").order_by("-created_at")[
                :limit_per_tenant
            ]:
                rows.append({"tenant": tenant.slug, "job": job, "dataset": str(job.dataset_version)})
    rows.sort(key=lambda r: (r["job"].status not in ("running", "queued"), -r["job"].created_at.timestamp()))
    return rows


def queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (None when Redis cannot be reached)."""
    import redis
    from django.conf import settings

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        return {queue: client.llen(queue) for queue in ("default", "training")}
    except redis.RedisError:
        return {"default": None, "training": None}
