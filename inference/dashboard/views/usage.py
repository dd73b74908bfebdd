"""Usage: requests and texts per day, for all keys or one (metered in the public schema, filtered by tenant)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone

from tenants.selectors import api_key_list, usage_list
from tenants.services import usage_flush

from .. import charts

DAYS = 30


def usage_page(request):
    today = timezone.now().date()
    usage_flush()  # counts this process still buffers belong on the page
    rows = usage_list(tenant=request.tenant).filter(day__gt=today - timedelta(days=DAYS))
    names = {k.prefix: k for k in api_key_list(tenant=request.tenant)}
    daily = {
        (r["key_prefix"], r["day"]): r
        for r in rows.values("key_prefix", "day").annotate(requests=Sum("requests"), texts=Sum("texts"))
    }
    per_key = [
        {
            **r,
            "key": names.get(r["key_prefix"]),
            "spark": charts.sparkline(
                {day: d["requests"] for (prefix, day), d in daily.items() if prefix == r["key_prefix"]},
                days=DAYS,
                today=today,
            ),
        }
        for r in rows.values("key_prefix")
        .annotate(requests=Sum("requests"), texts=Sum("texts"), last_day=Max("day"))
        .order_by("-requests")
    ]
    # One key's days, or all keys' together; a prefix this tenant never used shows all.
    chosen = next((r for r in per_key if r["key_prefix"] and r["key_prefix"] == request.GET.get("key")), None)
    per_day: dict = {}
    for (prefix, day), d in daily.items():
        if chosen is None or prefix == chosen["key_prefix"]:
            totals = per_day.setdefault(day, {"requests": 0, "texts": 0})
            totals["requests"] += d["requests"]
            totals["texts"] += d["texts"]
    return render(
        request,
        "dashboard/usage.html",
        {
            "nav": "usage",
            "days": DAYS,
            "chosen": chosen,
            "chosen_name": (chosen["key"].name if chosen["key"] else chosen["key_prefix"]) if chosen else "",
            "requests": charts.daily_columns(
                {d: r["requests"] for d, r in per_day.items()}, days=DAYS, today=today
            ),
            "texts": charts.daily_columns(
                {d: r["texts"] for d, r in per_day.items()}, days=DAYS, today=today
            ),
            "per_key": per_key,
        },
    )
