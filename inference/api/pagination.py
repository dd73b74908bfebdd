"""Paging of every list endpoint: ``?limit=&offset=``, answered as ``{results, count, limit, offset}``."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

MAX_INT = 2**31 - 1


class PageParamsSerializer(serializers.Serializer):
    """``limit`` and ``offset`` query parameters; ``max_limit`` is the default and the cap."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)

    def __init__(self, *args, max_limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_limit = max_limit

    def validate(self, attrs):
        limit = min(attrs.get("limit", self.max_limit), self.max_limit)
        return {"limit": limit, "offset": attrs.get("offset", 0)}


class LimitOffsetPage(LimitOffsetPagination):
    """DRF's limit/offset paging with the view's ``page_max`` as default and cap.

    A ``limit`` over the cap is answered with the cap (the answer's ``limit`` says so); a malformed
    value is a 400 naming the parameter, where DRF's own class would quietly use its default.
    """

    template = None

    def paginate_queryset(self, queryset, request, view=None):
        self.max_limit = self.default_limit = view.page_max
        params = PageParamsSerializer(data=request.query_params, max_limit=self.max_limit)
        params.is_valid(raise_exception=True)
        self._asked = params.validated_data
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request) -> int:
        return self._asked["limit"]

    def get_offset(self, request) -> int:
        return self._asked["offset"]

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "count": self.count, "limit": self.limit, "offset": self.offset})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "count", "limit", "offset"],
            "properties": {
                "results": {
                    **schema,
                    "description": "At most `limit` rows, from row `offset`, in the order the operation states.",
                },
                "count": {"type": "integer", "description": "How many rows there are, over all pages."},
                "limit": {
                    "type": "integer",
                    "description": "The page size used: the `limit` asked for, at most the list's maximum.",
                },
                "offset": {"type": "integer", "description": "How many rows come before this page."},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": f"Rows to answer: at most {view.page_max}, the default.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
            },
            {
                "name": "offset",
                "required": False,
                "in": "query",
                "description": "Rows to skip (default 0); `count` in the answer says how many there are.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
            },
        ]
