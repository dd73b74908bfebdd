"""Usage: requests and texts per day, and per key (metered in the public schema, filtered by tenant)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone

from inference.services import serving
from tenants.selectors import api_key_list, usage_list

from .. import charts

DAYS = 30


def usage_page(request):
    today = timezone.now().date()
    serving.usage_flush()  # counts this process still buffers belong on the page
    rows = usage_list(tenant=request.tenant).filter(day__gt=today - timedelta(days=DAYS))
    per_day = {r["day"]: r for r in rows.values("day").annotate(requests=Sum("requests"), texts=Sum("texts"))}
    names = {k.prefix: k for k in api_key_list(tenant=request.tenant)}
    per_key = [
        {**r, "key": names.get(r["key_prefix"])}
        for r in rows.values("key_prefix")
        .annotate(requests=Sum("requests"), texts=Sum("texts"), last_day=Max("day"))
        .order_by("-requests")
    ]
    return render(
        request,
        "dashboard/usage.html",
        {
            "nav": "usage",
            "days": DAYS,
            "requests": charts.daily_columns(
                {d: r["requests"] for d, r in per_day.items()}, days=DAYS, today=today
            ),
            "texts": charts.daily_columns(
                {d: r["texts"] for d, r in per_day.items()}, days=DAYS, today=today
            ),
            "per_key": per_key,
        },
    )
