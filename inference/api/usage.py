"""GET /api/v1/usage: the tenant's requests and texts per day and per key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from tenants.selectors import usage_list
from tenants.services import usage_flush

from .base import ApiView
from .fields import PageSerializer, page_of
from .schema import page_parameters, responses

LIST_LIMIT = 400


class UsageApi(ApiView):
    required_scope = "read"

    class OutputSerializer(serializers.Serializer):
        class UsageDaySerializer(serializers.Serializer):
            day = serializers.DateField()
            key_prefix = serializers.CharField(allow_blank=True)
            requests = serializers.IntegerField()
            texts = serializers.IntegerField()

        results = UsageDaySerializer(
            many=True, help_text="Newest day first, one row per key and day; at most `limit` from `offset`."
        )
        count = serializers.IntegerField(help_text="How many rows there are, over all pages.")
        limit = serializers.IntegerField()
        offset = serializers.IntegerField()

    @extend_schema(
        operation_id="usage_list",
        parameters=page_parameters(LIST_LIMIT),
        responses=responses({200: OutputSerializer}),
    )
    def get(self, request):
        page = PageSerializer(data=request.query_params, max_limit=LIST_LIMIT)
        page.is_valid(raise_exception=True)
        usage_flush()  # counts buffered by this process are part of the answer
        # Public-schema rows: filtered by the key's tenant in the selector.
        rows = usage_list(tenant=request.user.tenant).order_by("-day", "key_prefix")
        return Response(self.OutputSerializer(page_of(rows, **page.validated_data)).data)
