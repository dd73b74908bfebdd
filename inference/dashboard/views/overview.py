"""Overview: is my model good enough, what is running, how much is it used, and what next?"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone

from inference.models import TrainingJob
from inference.selectors.registry import model_aliases, model_list
from inference.selectors.training import training_job_list
from inference.services.monitoring import ALERT_WINDOW_DAYS, model_health, stats_flush
from tenants.selectors import audit_list, usage_list

from .. import charts
from ..guidance import next_steps


def overview(request):
    today = timezone.now().date()
    week = usage_list(tenant=request.tenant).filter(day__gt=today - timedelta(days=7))
    per_day = {row["day"]: row["n"] for row in week.values("day").annotate(n=Sum("requests"))}
    return render(
        request,
        "dashboard/overview.html",
        {
            "nav": "overview",
            "steps": next_steps(tenant=request.tenant),
            "models": [_model_card(m) for m in model_list()],
            "active_jobs": training_job_list()
            .filter(status__in=TrainingJob.ACTIVE)
            .order_by("-created_at")[:5],
            "recent_jobs": training_job_list()
            .exclude(status__in=TrainingJob.ACTIVE)
            .order_by("-created_at")[:3],
            "volume": charts.daily_columns(per_day, days=7, today=today, slot=64, height=150),
            "alerts": _alerts(),
            "demo": _demo_note(request.tenant),
        },
    )


def _demo_note(tenant) -> dict | None:
    """What the demo set up in this workspace (`manage.py dev` seeds it once), and whether its
    models are still training: a newcomer must know the jobs and models they see are samples."""
    seeded = audit_list(tenant=tenant, action="demo.seeded").first()
    if seeded is None:
        return None
    names = seeded.details.get("models", [])
    jobs = TrainingJob.objects.filter(model_name__in=names, created_by=seeded.actor)
    return {
        "datasets": seeded.details.get("datasets", []),
        "models": names,
        "training": jobs.filter(status__in=TrainingJob.ACTIVE).exists(),
    }


def _model_card(model) -> dict:
    aliases = model_aliases(model=model)
    versions = model.versions.order_by("-number")
    production = versions.filter(number=aliases["production"]).first() if "production" in aliases else None
    return {
        "model": model,
        "production": production,
        "latest": versions.first(),
        "version_count": versions.count(),
    }


def _alerts() -> list[dict]:
    """Drift and low-confidence alerts of every model, for the top of the overview."""
    stats_flush()
    return [
        {"model": model, "message": message}
        for model in model_list()
        for message in model_health(model=model, days=ALERT_WINDOW_DAYS)["alerts"]
    ]
