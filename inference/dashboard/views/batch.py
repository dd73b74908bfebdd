"""Batch predictions from the dashboard: send a file, watch it run, download the answers."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from inference.models import BatchPrediction
from inference.services.batch import (
    batch_prediction_cancel,
    batch_prediction_delete,
    batch_prediction_start,
    batch_results_csv,
    batch_results_lines,
)

from ..forms import BatchPredictionForm
from ..lookups import actor, model_or_404


def _batch_or_404(model, batch_id: int) -> BatchPrediction:
    batch = BatchPrediction.objects.select_related("version").filter(model=model, pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch prediction.")
    return batch


def batch_page(request, name: str):
    model = model_or_404(name)
    form = BatchPredictionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = batch_prediction_start(
                model_name=model.name,
                file=upload,
                filename=upload.name,
                text_column=form.cleaned_data["text_column"],
                actor=actor(request),
            )
        except ApplicationError as exc:
            form.add_error("text_column" if exc.field == "text_column" else None, exc.message)
        else:
            messages.success(
                request, f"Batch {batch.pk} queued: its rows are answered by v{batch.version.number}."
            )
            return redirect("dashboard-model-batch", model.name)
    batches = list(BatchPrediction.objects.select_related("version").filter(model=model)[:50])
    return render(
        request,
        "dashboard/models/batch.html",
        {
            "nav": "models",
            "model": model,
            "form": form,
            "batches": batches,
            "running": any(b.is_active for b in batches),
        },
        status=400 if form.errors else 200,
    )


def batch_results(request, name: str, batch_id: int, fmt: str):
    batch = _batch_or_404(model_or_404(name), batch_id)
    if fmt not in ("csv", "jsonl") or batch.status != BatchPrediction.Status.SUCCEEDED:
        raise Http404("No answers to download.")
    body = batch_results_csv(batch) if fmt == "csv" else batch_results_lines(batch)
    response = StreamingHttpResponse(
        body, content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-batch-{batch.pk}.{fmt}"'
    return response


@require_POST
def batch_cancel(request, name: str, batch_id: int):
    batch = _batch_or_404(model_or_404(name), batch_id)
    try:
        batch_prediction_cancel(batch=batch, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Batch {batch.pk} cancelled.")
    return redirect("dashboard-model-batch", name)


@require_POST
def batch_delete(request, name: str, batch_id: int):
    batch = _batch_or_404(model_or_404(name), batch_id)
    try:
        batch_prediction_delete(batch=batch, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Batch {batch_id} and its files deleted.")
    return redirect("dashboard-model-batch", name)
