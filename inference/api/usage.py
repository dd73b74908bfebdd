"""GET /api/v1/usage: the tenant's requests and texts per day and per key, and its quotas."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from inference.selectors.quotas import quota_usage
from tenants.selectors import usage_list
from tenants.services import usage_flush

from .base import ApiView
from .pagination import LimitOffsetPage
from .schema import responses

_QUOTA = {
    "type": "object",
    "required": ["limit", "used"],
    "properties": {
        "limit": {"type": "integer", "description": "What the plan allows (0: none)."},
        "used": {
            "type": "integer",
            "nullable": True,
            "description": "How much is in use now; null where the quota limits each request, not a total.",
        },
    },
}
QUOTAS_SCHEMA = {
    "type": "object",
    "description": "The workspace's quotas, set by the platform's operators, with their current use.",
    "required": [
        "concurrent_training_jobs", "training_jobs_per_day", "dataset_rows_per_version", "requests_per_minute"
    ],
    "properties": {
        "concurrent_training_jobs": {**_QUOTA, "description": "Training jobs queued or running."},
        "training_jobs_per_day": {
            **_QUOTA,
            "description": "Training jobs started in the last 24 hours, and queued ones; "
            "a job cancelled before it started does not count.",
        },
        "dataset_rows_per_version": {**_QUOTA, "description": "Rows in one dataset version (used: null)."},
        "requests_per_minute": {**_QUOTA, "description": "API requests per minute, all keys (used: null)."},
    },
}  # fmt: skip


class UsagePage(LimitOffsetPage):
    """The usage list's page, with the workspace's ``quotas`` beside the rows."""

    quotas: dict | None = None

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["quotas"] = self.quotas
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        page = super().get_paginated_response_schema(schema)
        return {
            **page,
            "required": [*page["required"], "quotas"],
            "properties": {**page["properties"], "quotas": QUOTAS_SCHEMA},
        }


class UsageDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    key_prefix = serializers.CharField(allow_blank=True)
    requests = serializers.IntegerField()
    texts = serializers.IntegerField()


class UsageApi(ApiView):
    required_scope = "read"
    page_max = 400
    pagination_class = UsagePage

    @extend_schema(
        operation_id="usage_list",
        summary="Read your API usage and quotas",
        description="Requests and texts your workspace's keys sent, one row per key and day (UTC), "
        "newest day first, then by key prefix. Requests refused by the rate limit are not counted. "
        "`quotas` gives each quota of your plan with its current use. Scope: read.",
        responses=responses({200: UsageDaySerializer(many=True)}),
    )
    def get(self, request):
        usage_flush()  # counts buffered by this process are part of the answer
        # Public-schema rows: filtered by the key's tenant in the selector.
        rows = usage_list(tenant=request.user.tenant).order_by("-day", "key_prefix")
        paginator = self.pagination_class()
        paginator.quotas = quota_usage(tenant=request.user.tenant)
        rows = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(UsageDaySerializer(rows, many=True).data)
