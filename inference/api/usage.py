"""GET /api/v1/usage: the tenant's requests and texts per day and per key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from tenants.selectors import usage_list
from tenants.services import usage_flush

from .base import ApiView
from .schema import responses


class UsageDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    key_prefix = serializers.CharField(allow_blank=True)
    requests = serializers.IntegerField()
    texts = serializers.IntegerField()


class UsageApi(ApiView):
    required_scope = "read"
    page_max = 400

    @extend_schema(
        operation_id="usage_list",
        summary="Read your API usage",
        description="Requests and texts your workspace's keys sent, one row per key and day (UTC), "
        "newest day first, then by key prefix. Requests refused by the rate limit are not counted. "
        "Scope: read.",
        responses=responses({200: UsageDaySerializer(many=True)}),
    )
    def get(self, request):
        usage_flush()  # counts buffered by this process are part of the answer
        # Public-schema rows: filtered by the key's tenant in the selector.
        rows = usage_list(tenant=request.user.tenant).order_by("-day", "key_prefix")
        return self.page(rows, UsageDaySerializer)
