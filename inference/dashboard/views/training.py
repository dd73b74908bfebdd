"""Training: start with defaults in one click, watch live progress, cancel, read the event log."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import ApplicationError
from inference.selectors.training import training_job_events, training_job_list
from inference.services.training import training_job_cancel, training_job_start

from ..forms import TrainingStartForm
from ..lookups import actor, job_or_404
from ..progress import duration, job_progress

# The knobs the advanced form offers, shown with the values the run actually used.
SHOWN_SETTINGS = [
    ("epochs", "Epochs"),
    ("learning_rate", "Learning rate"),
    ("batch_size", "Batch size"),
    ("max_length", "Max length"),
]
EVENTS_SHOWN = 50


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
            time_budget_seconds=form.time_budget_seconds(),
            evaluate_on=data["evaluate_on"] or "auto",
            actor=actor(request),
        )
    except ApplicationError as exc:
        form.add_service_error(exc)
        return training_list(request, form, status=400)
    messages.success(request, f"Training of “{job.model_name}” has started. This page updates by itself.")
    return redirect("dashboard-job", job.pk)


def job_detail(request, job_id: int):
    job = job_or_404(job_id)
    events = list(training_job_events(job=job).order_by("-created_at", "-pk")[:EVENTS_SHOWN])
    return render(
        request,
        "dashboard/training/job.html",
        _job_context(job, nav="training", events=events, after=max((e.pk for e in events), default=0)),
    )


@require_GET
def job_progress_partial(request, job_id: int):
    """Polled by htmx while the job runs; the finished state carries no trigger, so polling stops.

    Only the progress figures are swapped in place. The event log gets just the events the page
    has not shown (``after``), and the cancel button is only touched once it has to go, so
    polling neither moves keyboard focus nor resets the log's scroll position.
    """
    job = job_or_404(job_id)
    if request.GET.get("compact"):
        return render(request, "dashboard/training/_job_card.html", _job_context(job))
    after = _int(request.GET.get("after"))
    events = training_job_events(job=job).order_by("-created_at", "-pk")
    new_events = list(
        events.filter(pk__gt=after)[:EVENTS_SHOWN] if after is not None else events[:EVENTS_SHOWN]
    )
    settings_shown = request.GET.get("settings") == "1"
    context = _job_context(
        job,
        new_events=new_events,
        # A poll without ``after`` (an older page) gets the whole log back.
        replace_log=after is None,
        after=max([after or 0, *(e.pk for e in new_events)]),
        send_settings=not settings_shown and bool(job.resolved_hyperparameters),
        send_actions=not job.is_active or job.cancel_requested,
    )
    return render(request, "dashboard/training/_progress_poll.html", context)


@require_POST
def job_cancel(request, job_id: int):
    job = job_or_404(job_id)
    try:
        training_job_cancel(job=job, actor=actor(request))
        messages.info(request, "Cancellation requested: the job stops within a few seconds.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard-job", job.pk)


def _job_context(job, *, after: int = 0, **extra) -> dict:
    # The worker resolves the settings when it starts: until then the page shows what was asked.
    resolved = bool(job.resolved_hyperparameters)
    chosen = job.resolved_hyperparameters or job.hyperparameters or {}
    poll = {"after": after, "settings": "1" if resolved else "0"}
    return {
        "job": job,
        "settings": [(label, chosen[key]) for key, label in SHOWN_SETTINGS if key in chosen],
        "progress": job_progress(job),
        "time_limit": duration(job.time_budget_seconds),
        "poll_url": reverse("dashboard-job-progress", args=[job.pk]) + "?" + urlencode(poll),
        **extra,
    }


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
