"""The workspace's quotas and how much of each it uses now (set by the platform's operators)."""

from __future__ import annotations

from django.shortcuts import render

from inference.selectors.quotas import quota_usage

# What each quota limits, in the page's words, in the order the page lists them.
QUOTA_LABELS = {
    "concurrent_training_jobs": ("Training jobs at a time", "Queued or running jobs."),
    "training_jobs_per_day": (
        "Training jobs per 24 hours",
        "Jobs started in the last 24 hours, and queued ones. A job cancelled before it started does not count.",
    ),
    "dataset_rows_per_version": ("Rows in one dataset version", "Larger files are refused at upload."),
    "requests_per_minute": ("API requests per minute", "For all of the workspace's keys together."),
}


def quotas_page(request):
    usage = quota_usage(tenant=request.tenant)
    rows = [
        {"name": name, "label": label, "help": help_text, **usage[name]}
        for name, (label, help_text) in QUOTA_LABELS.items()
    ]
    for row in rows:
        row["full"] = row["used"] is not None and row["used"] >= row["limit"]
    return render(request, "dashboard/quotas.html", {"nav": "quotas", "rows": rows})
