"""The workspace's audit log, for its admins and owners: filterable, paged, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.http import urlencode

from tenants.permissions import permission_check
from tenants.selectors import audit_list
from tenants.services.audit import ACTIONS

from ..lookups import actor

ENTRIES_PER_PAGE = 50


def audit_log(request):
    permission_check(actor=actor(request), action="audit.read")
    action = request.GET.get("action", "")
    if action not in ACTIONS:
        action = ""
    who = request.GET.get("actor", "").replace("\x00", "").strip()[:200]
    since, until = _day(request.GET.get("since")), _day(request.GET.get("until"))
    entries = audit_list(
        tenant=request.tenant,
        action=action or None,
        actor=who or None,
        since=since,
        until=until + timedelta(days=1) if until else None,
    )
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/audit.html",
        {
            "nav": "audit",
            "page": page,
            "actions": sorted(ACTIONS.items()),
            "words": ACTIONS,
            "action": action,
            "actor_query": who,
            "since": request.GET.get("since", "") if since else "",
            "until": request.GET.get("until", "") if until else "",
            "query": urlencode({k: v for k, v in request.GET.items() if k != "page"}),
        },
    )


def _day(value: str | None) -> datetime | None:
    """A YYYY-MM-DD date as the start of that day (UTC); anything else is ignored."""
    try:
        day = datetime.strptime((value or "")[:10], "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.min, tzinfo=UTC)
