"""Training: start with defaults in one click, watch live progress, cancel, read the event log."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inference.selectors.training import training_job_events, training_job_list
from inference.services.errors import ServiceError
from inference.services.training import training_job_cancel, training_job_start

from ..forms import TrainingStartForm
from ..lookups import actor, job_or_404
from ..progress import job_progress

# The knobs the advanced form offers, shown with the values the run actually used.
SHOWN_SETTINGS = [
    ("epochs", "Epochs"),
    ("learning_rate", "Learning rate"),
    ("batch_size", "Batch size"),
    ("max_length", "Max length"),
]


def training_list(request, form: TrainingStartForm | None = None, status: int = 200):
    if form is None:
        dataset = request.GET.get("dataset", "")
        form = TrainingStartForm(initial={"dataset": dataset} if dataset else None)
    jobs = training_job_list().order_by("-created_at")[:30]
    return render(
        request,
        "dashboard/training/list.html",
        {"nav": "training", "form": form, "jobs": [(job, job_progress(job)) for job in jobs]},
        status=status,
    )


@require_POST
def training_start(request):
    form = TrainingStartForm(request.POST)
    if not form.is_valid():
        return training_list(request, form, status=400)
    data = form.cleaned_data
    try:
        job = training_job_start(
            dataset=data["dataset"],
            model_name=data["model_name"] or data["dataset"].lower(),
            base_model_id=data["base_model"],
            method=data["method"],
            hyperparameters=form.hyperparameters(),
            actor=actor(request),
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return training_list(request, form, status=400)
    messages.success(request, f"Training of “{job.model_name}” has started. This page updates by itself.")
    return redirect("dashboard-job", job.pk)


def job_detail(request, job_id: int):
    job = job_or_404(job_id)
    chosen = job.resolved_hyperparameters or job.hyperparameters or {}
    settings = [(label, chosen[key]) for key, label in SHOWN_SETTINGS if key in chosen]
    return render(
        request, "dashboard/training/job.html", _job_context(job, nav="training", settings=settings)
    )


@require_GET
def job_progress_partial(request, job_id: int):
    """Polled by htmx every second while the job runs; the finished state carries no trigger, so polling stops."""
    job = job_or_404(job_id)
    template = (
        "dashboard/training/_job_card.html"
        if request.GET.get("compact")
        else "dashboard/training/_progress.html"
    )
    return render(request, template, _job_context(job))


@require_POST
def job_cancel(request, job_id: int):
    job = job_or_404(job_id)
    try:
        training_job_cancel(job=job, actor=actor(request))
        messages.info(request, "Cancellation requested: the job stops within a few seconds.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard-job", job.pk)


def _job_context(job, **extra) -> dict:
    # The worker resolves the settings when it starts, so they live in the polled part of the page.
    chosen = job.resolved_hyperparameters or job.hyperparameters or {}
    return {
        "job": job,
        "settings": [(label, chosen[key]) for key, label in SHOWN_SETTINGS if key in chosen],
        "progress": job_progress(job),
        "events": training_job_events(job=job).order_by("-created_at", "-pk")[:50],
        **extra,
    }
