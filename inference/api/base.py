"""The base of every /api/v1 operation: rate limit before the work, usage metered after it."""

from __future__ import annotations

import logging

from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import ratelimits
from tenants.api_auth import ApiKeyAuth
from tenants.api_parsers import DepthLimitedJSONParser
from tenants.services import usage_record

from .idempotency import IdempotentPostMixin
from .pagination import LimitOffsetPage
from .schema import ApiAutoSchema  # also registers the Bearer scheme with drf-spectacular

logger = logging.getLogger("scalpel.api")


class ApiView(IdempotentPostMixin, APIView):
    """One operation. Subclasses set ``required_scope``; predict sets ``texts_served``; a list sets
    ``page_max`` and answers with ``page()``."""

    schema = ApiAutoSchema()
    parser_classes = [DepthLimitedJSONParser]  # bodies are JSON; the upload endpoint takes multipart instead
    pagination_class = LimitOffsetPage
    page_max = 500  # the default and largest ``limit`` of a list
    required_scope = "read"
    texts_served = 0
    _metered_key = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication (switches schema), scope check
        auth: ApiKeyAuth = request.auth
        ratelimits.check(api_key=auth.key, counted=auth.rate_counts)
        # Only requests let through the rate limit count as usage.
        self._metered_key = auth.key
        self.idempotency_begin(request)  # a retry of an answered POST is answered here, again

    def page(self, rows, serializer_class) -> Response:
        """One page of ``rows`` as ``{results, count, limit, offset}``, by the query's limit/offset."""
        paginator = self.pagination_class()
        rows = paginator.paginate_queryset(rows, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(rows, many=True).data)

    def finalize_response(self, request, response, *args, **kwargs):
        try:
            self.idempotency_end(response)
        except Exception:  # noqa: BLE001 - the key is then freed after its timeout; the answer stands
            logger.exception("could not keep the answer of an Idempotency-Key")
        if self._metered_key is not None:
            try:
                usage_record(api_key=self._metered_key, texts=self.texts_served)
            except Exception:  # noqa: BLE001 - a metering hiccup must not fail an answered request
                logger.exception("usage metering failed for key %s", self._metered_key.prefix)
        return super().finalize_response(request, response, *args, **kwargs)
