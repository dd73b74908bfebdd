"""What the tenant admin and the operator console share: pages that read survive hostile queries.

Django's admin turns a filter it cannot apply into a redirect to ``?e=1`` (the page without
its filters) only when the failure shows while the filter is built. A filter the database refuses when
it runs (an invalid ``__regex``, a number out of range), or a link to a row of another schema,
fails later, as a 500. Each read here runs in a savepoint and answers those with the same redirect
and a message saying why, or a 400 if the page fails again without them.
"""

from __future__ import annotations

import functools
import logging

from django.contrib import messages
from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DatabaseError, transaction
from django.http import HttpResponseBadRequest, HttpResponseRedirect

logger = logging.getLogger("scalpel.admin")

READS = ("GET", "HEAD")
REFUSED_MESSAGE = (
    "These filters could not be applied (the database refused them): showing the page without them."
)


class HostileQuerySafeSite:
    """An ``AdminSite`` mixin: a read that the database refuses is a redirect to ``?e=1``, then a 400."""

    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        @functools.wraps(wrapped)
        def safe_view(request, *args, **kwargs):
            if request.method not in READS:
                return wrapped(request, *args, **kwargs)
            try:
                with transaction.atomic():  # a refused query must not spoil the request's connection
                    response = wrapped(request, *args, **kwargs)
                    if callable(getattr(response, "render", None)):
                        response.render()  # the admin's lists run their queries while rendering
                    return response
            except DatabaseError as exc:
                logger.warning(
                    "admin read refused by the database: %s (%s)", request.get_full_path()[:300], exc
                )
                if ERROR_FLAG not in request.GET:
                    messages.warning(request, REFUSED_MESSAGE)
                    return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
                return HttpResponseBadRequest(
                    "This page cannot be shown with these filters or this address: remove them and try again.",
                    content_type="text/plain; charset=utf-8",
                )

        return safe_view
