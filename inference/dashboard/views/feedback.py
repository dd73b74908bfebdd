"""Feedback inbox: corrections sent through the API, added to a new dataset version and retrained."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from inference.models import Feedback, ModelVersion
from inference.services.feedback import feedback_apply
from inference.services.training import training_job_start

from ..forms import FeedbackApplyForm
from ..lookups import actor


def _pending():
    # Feedback rows live in the tenant's schema, so this reads only the current workspace's.
    return Feedback.objects.filter(applied_to__isnull=True, dismissed_at__isnull=True).order_by("-created_at")


def feedback_inbox(request, form: FeedbackApplyForm | None = None, status: int = 200):
    pending = _pending()
    if form is None:
        model_name = pending.values_list("model_name", flat=True).first()
        form = FeedbackApplyForm(
            pending=pending,
            initial={
                "feedback": list(pending.values_list("pk", flat=True)),
                "dataset": _trained_on(model_name),
                "model_name": model_name or "",
                "retrain": True,
            },
        )
    if form.is_bound:
        selected = {int(pk) for pk in form.data.getlist("feedback") if str(pk).isdigit()}
    else:
        selected = set(pending.values_list("pk", flat=True))
    applied = Feedback.objects.filter(applied_to__isnull=False).select_related("applied_to__dataset")[:20]
    dismissed = Feedback.objects.filter(applied_to__isnull=True, dismissed_at__isnull=False).order_by(
        "-dismissed_at"
    )[:20]
    return render(
        request,
        "dashboard/feedback.html",
        {
            "nav": "feedback",
            "form": form,
            "pending": pending,
            "applied": applied,
            "dismissed": dismissed,
            "selected": selected,
        },
        status=status,
    )


@require_POST
def feedback_apply_view(request):
    form = FeedbackApplyForm(request.POST, pending=_pending())
    if not form.is_valid():
        return feedback_inbox(request, form, status=400)
    data = form.cleaned_data
    try:
        # Both steps or neither: a failed start leaves the corrections in the inbox to try again.
        with transaction.atomic():
            version = feedback_apply(
                feedback_ids=[f.pk for f in data["feedback"]],
                dataset_name=data["dataset"],
                actor=actor(request),
            )
            job = None
            if data["retrain"]:
                job = training_job_start(
                    dataset=version.dataset,
                    dataset_version=version.number,
                    model_name=data["model_name"] or data["feedback"][0].model_name,
                    actor=actor(request),
                )
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return feedback_inbox(request, form, status=400)
    added = f"{len(data['feedback'])} correction(s) added as {version.dataset.name} v{version.number}."
    if job is None:
        messages.success(request, added)
        return redirect("dashboard-dataset-version", version.dataset.name, version.number)
    messages.success(request, added + f" Retraining “{job.model_name}” now.")
    return redirect("dashboard-job", job.pk)


def _trained_on(model_name: str | None) -> str | None:
    """The dataset the model's newest version learned from: where its corrections belong."""
    if not model_name:
        return None
    version = (
        ModelVersion.objects.filter(model__name=model_name)
        .order_by("-number")
        .select_related("dataset_version__dataset")
        .first()
    )
    return version.dataset_version.dataset.name if version else None
