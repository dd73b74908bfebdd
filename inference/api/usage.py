"""GET /api/v1/usage: the tenant's requests and texts per day and per key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.selectors import usage_list


class UsageApi(APIView):
    required_scope = "read"

    class OutputSerializer(serializers.Serializer):
        day = serializers.DateField()
        key_prefix = serializers.CharField(allow_blank=True)
        requests = serializers.IntegerField()
        texts = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer(many=True), operation_id="usage_list")
    def get(self, request):
        rows = usage_list(tenant=request.user.tenant).order_by("-day", "key_prefix")[:400]
        return Response({"results": self.OutputSerializer(rows, many=True).data})
