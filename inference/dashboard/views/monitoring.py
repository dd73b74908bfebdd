"""A live model's health: traffic, errors, latency and confidence per day, drift against its evaluation."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from core.exceptions import ApplicationError
from inference.models import ModelStatsDay
from inference.services.monitoring import (
    model_alert_settings_set,
    model_health,
    percentile,
    stats_flush,
)

from .. import charts
from ..lookups import actor, model_or_404

DAYS = 30


class AlertSettingsForm(forms.Form):
    drift_threshold = forms.FloatField(
        label="Alert when the label mix moves more than", min_value=0, max_value=1,
        help_text="0 to 1: the share of answers that would have to change label to match the evaluation's mix.",
    )  # fmt: skip
    confidence_floor = forms.FloatField(
        label="Alert when mean confidence falls below", min_value=0, max_value=1, help_text="0 to 1."
    )


def model_monitoring(request, name: str):
    model = model_or_404(name)
    form = AlertSettingsForm(
        request.POST or None,
        initial={"drift_threshold": model.drift_threshold, "confidence_floor": model.confidence_floor},
    )
    if request.method == "POST" and form.is_valid():
        try:
            model_alert_settings_set(model=model, **form.cleaned_data, actor=actor(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Alert thresholds saved.")
        return redirect("dashboard-model-monitoring", model.name)
    stats_flush()  # what this process still buffers belongs on the page
    health = model_health(model=model, days=DAYS)
    today = timezone.now().date()
    daily = {d["day"]: d for d in health["daily"]}

    def chart(value):
        return charts.daily_columns(
            {day: value(d) for day, d in daily.items() if value(d) is not None},
            days=DAYS,
            today=today,
            slot=16,
        )

    return render(
        request,
        "dashboard/models/monitoring.html",
        {
            "nav": "models",
            "model": model,
            "health": health,
            "form": form,
            "texts": chart(lambda d: d["texts"]),
            "p95": chart(lambda d: d["p95_ms"]),
            "errors": chart(lambda d: round(100 * d["error_rate"])),
            "confidence": chart(lambda d: None if d["confidence"] is None else round(100 * d["confidence"])),
        },
    )


def model_monitoring_csv(request, name: str):
    """Per day and version: requests, texts, errors, p50 and p95 latency, mean confidence."""
    model = model_or_404(name)
    stats_flush()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "version", "requests", "texts", "errors", "p50_ms", "p95_ms", "mean_confidence"])
    for row in ModelStatsDay.objects.filter(model_name=model.name).order_by("day", "version"):
        confidence = round(row.confidence_sum / row.confidence_n, 4) if row.confidence_n else ""
        writer.writerow([
            row.day.isoformat(), row.version, row.requests, row.texts, row.errors,
            percentile(row.latency_counts, 0.5), percentile(row.latency_counts, 0.95), confidence,
        ])  # fmt: skip
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{model.name}-monitoring.csv"'
    return response
