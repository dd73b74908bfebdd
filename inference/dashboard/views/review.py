"""Correcting answers in the app: "Correct this" (playground, mistakes list) and the review queue."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from inference.models import Feedback, Model, PredictionLog
from inference.selectors.registry import model_list
from inference.services.feedback import feedback_create, feedback_dismiss, feedback_restore
from inference.services.review import prediction_logging_set, review_decide, review_queue, review_skip

from ..lookups import actor, model_or_404


def _model_labels(model: Model) -> list[str]:
    labels: set[str] = set()
    for version_labels in model.versions.values_list("labels", flat=True):
        labels.update(version_labels or [])
    return sorted(labels)


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def _chosen_label(request) -> tuple[str, bool]:
    """The label picked, or a new one typed (which needs its confirmation box ticked)."""
    typed = request.POST.get("new_label", "").strip()
    if typed:
        if request.POST.get("confirm_new") != "on":
            raise ApplicationError(
                f"'{typed}' is a new label: tick “Yes, add this new label” to confirm it.",
                code="validation_failed",
            )
        return typed, True
    return request.POST.get("label", "").strip(), False


@require_POST
def correct(request):
    """A correction of one answer, from the playground or an evaluation's mistakes list."""
    model = model_or_404(request.POST.get("model", ""))
    version = request.POST.get("version")
    source = (
        request.POST.get("source")
        if request.POST.get("source") in ("playground", "evaluation")
        else "playground"
    )
    try:
        label, new = _chosen_label(request)
        if not label:
            raise ApplicationError("Pick the right label (or type a new one).", code="validation_failed")
        feedback_create(
            model_name=model.name,
            text=request.POST.get("text", ""),
            correct_label=label,
            model_version=int(version) if version and version.isdigit() else None,
            source=source,
            new_label=new,
            actor=actor(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Correction saved: “{label}”. Add it to a dataset from Feedback.")
    return _back(request, "dashboard-feedback")


def review_page(request):
    models = [m for m in model_list() if m.task == "classification" or m.prediction_logging]
    name = request.GET.get("model") or (models[0].name if models else "")
    model = model_or_404(name) if name else None
    items = review_queue(model=model, limit=20) if model is not None else []
    return render(
        request,
        "dashboard/review.html",
        {
            "nav": "review",
            "models": models,
            "model": model,
            "items": items,
            "current": items[0] if items else None,
            "labels": _model_labels(model) if model is not None else [],
        },
    )


@require_POST
def review_action(request, log_id: int):
    log = PredictionLog.objects.filter(pk=log_id).first()
    if log is None:
        raise Http404("No such logged prediction.")
    action = request.POST.get("action")
    try:
        if action == "skip":
            review_skip(log=log, actor=actor(request))
        elif action == "confirm":
            review_decide(log=log, actor=actor(request))
        else:
            label, new = _chosen_label(request)
            if not label:
                raise ApplicationError("Pick the right label (or type a new one).", code="validation_failed")
            review_decide(log=log, label=label, new_label=new, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(f"/review/?model={log.model_name}")


@require_POST
def review_logging(request, name: str):
    model = model_or_404(name)
    try:
        days = int(request.POST.get("retention_days") or model.prediction_log_retention_days)
        prediction_logging_set(
            model=model,
            enabled=request.POST.get("enabled") == "on",
            retention_days=days,
            actor=actor(request),
        )
    except (ApplicationError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", "Keep logged predictions a whole number of days."))
    else:
        state = "logs its predictions" if model.prediction_logging else "no longer logs its predictions"
        messages.success(request, f"{model.name} {state}.")
    return redirect(f"/review/?model={model.name}")


@require_POST
def feedback_dismiss_view(request, feedback_id: int):
    feedback = Feedback.objects.filter(pk=feedback_id).first()
    if feedback is None:
        raise Http404("No such correction.")
    try:
        if request.POST.get("undo"):
            feedback_restore(feedback=feedback, actor=actor(request))
            messages.success(request, "The correction is pending again.")
        else:
            feedback_dismiss(feedback=feedback, actor=actor(request))
            messages.success(request, "Correction set aside. Undo it below if that was a mistake.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard-feedback")
