"""Reads of the feedback clients sent (current schema only)."""

from __future__ import annotations

from django.db.models import QuerySet

from inference.models import Feedback


def feedback_list(*, model_name: str | None = None, pending: bool | None = None) -> QuerySet[Feedback]:
    """Newest first; ``pending`` True: not yet added to a dataset, False: added."""
    rows = Feedback.objects.order_by("-created_at", "-pk")
    if model_name:
        rows = rows.filter(model_name=model_name)
    if pending is not None:
        rows = rows.filter(applied_to__isnull=pending)
    return rows
