"""GET /api/v1/usage: the tenant's requests and texts per day and per key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from inference.services import serving
from tenants.selectors import usage_list

from .base import ApiView
from .schema import responses


class UsageApi(ApiView):
    required_scope = "read"

    class OutputSerializer(serializers.Serializer):
        class UsageDaySerializer(serializers.Serializer):
            day = serializers.DateField()
            key_prefix = serializers.CharField(allow_blank=True)
            requests = serializers.IntegerField()
            texts = serializers.IntegerField()

        results = UsageDaySerializer(many=True, help_text="Newest day first, one row per key and day.")

    @extend_schema(operation_id="usage_list", responses=responses({200: OutputSerializer}))
    def get(self, request):
        serving.usage_flush()  # counts buffered by this process are part of the answer
        # Public-schema rows: filtered by the key's tenant in the selector.
        rows = usage_list(tenant=request.user.tenant).order_by("-day", "key_prefix")[:400]
        return Response(self.OutputSerializer({"results": rows}).data)
