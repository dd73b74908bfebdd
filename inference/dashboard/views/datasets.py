"""Datasets: upload with column mapping, the validation report, label distribution, versions, examples."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET

from core.exceptions import ApplicationError
from inference import insights
from inference.selectors.datasets import (
    dataset_get,
    dataset_list,
    dataset_upload_list,
    dataset_version_examples,
    dataset_version_list,
    dataset_versions_compare,
)
from inference.services.datasets import (
    DatasetUploadError,
    dataset_delete,
    dataset_deletion_plan,
    dataset_upload,
    dataset_upload_preview,
    dataset_version_delete,
    dataset_version_export,
)
from inference.services.datasets.limits import upload_limit_guard

from .. import charts, reports
from ..forms import DatasetUploadForm
from ..lookups import actor, dataset_or_404, dataset_version_or_404

EXAMPLES_PER_PAGE = 25
# The engine warns below this many training examples of a label (validation's "rare_label").
RARE_LABEL_TRAIN_EXAMPLES = 5


def dataset_list_view(request):
    return render(
        request,
        "dashboard/datasets/list.html",
        {
            "nav": "datasets",
            "datasets": dataset_list(),
            "failed_uploads": dataset_upload_list(status="failed")[:5],
        },
    )


@csrf_exempt  # the size guard must run before the CSRF check reads the body; the page checks CSRF itself
def dataset_upload_view(request):
    guard = upload_limit_guard(request)
    if guard.refusal():
        # Nothing was read, so there is no form to re-show: only the refusal, naming the limit.
        return _upload_page(request, DatasetUploadForm(), _report(guard.refusal()), status=413)
    return _dataset_upload(request, guard)


@csrf_protect
def _dataset_upload(request, guard):
    report = None
    if request.method == "POST":
        form = DatasetUploadForm(request.POST, request.FILES)
        if guard.refusal():
            return _upload_page(request, form, _report(guard.refusal()), status=413)
        if form.is_valid():
            data = form.cleaned_data
            existing = dataset_get(name=data["name"])
            try:
                version = dataset_upload(
                    name=data["name"],
                    file=data["file"],
                    filename=data["file"].name,
                    # A new version is of the dataset's task, whatever the form defaulted to.
                    task=existing.task if existing else data["task"],
                    **form.upload_kwargs(),
                    actor=actor(request),
                )
            except DatasetUploadError as exc:
                report = _report(exc)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"Uploaded: every row passed the checks and was saved as version {version.number}.",
                )
                return redirect("dashboard-dataset-version", version.dataset.name, version.number)
    else:
        name = request.GET.get("dataset", "")
        existing = dataset_get(name=name) if name else None
        form = DatasetUploadForm(initial={"name": name}, dataset=existing)
    return _upload_page(request, form, report, status=400 if report else 200)


@csrf_exempt  # as the upload: the size guard runs before the CSRF check reads the body
def dataset_upload_preview_view(request):
    """htmx: what the chosen file would change in its dataset, before anything is saved."""
    guard = upload_limit_guard(request)
    if guard.refusal():
        return render(
            request, "dashboard/datasets/_preview.html", {"report": _report(guard.refusal())}, status=413
        )
    return csrf_protect(_dataset_upload_preview)(request, guard)


def _dataset_upload_preview(request, guard):
    form = DatasetUploadForm(request.POST, request.FILES)
    context: dict = {}
    if guard.refusal():
        context["report"] = _report(guard.refusal())
    elif not form.is_valid():
        context["form_errors"] = [
            f"{form.fields[name].label if name in form.fields else 'Form'}: {error}"
            for name, errors in form.errors.items()
            for error in errors
        ]
    else:
        data = form.cleaned_data
        existing = dataset_get(name=data["name"])
        try:
            context["preview"] = dataset_upload_preview(
                name=data["name"],
                file=data["file"],
                filename=data["file"].name,
                task=existing.task if existing else data["task"],
                **form.upload_kwargs(),
                actor=actor(request),
            )
        except DatasetUploadError as exc:
            context["report"] = _report(exc)
        except ApplicationError as exc:
            context["form_errors"] = [exc.message]
    return render(request, "dashboard/datasets/_preview.html", context)


def _report(exc: DatasetUploadError) -> dict:
    return {"summary": exc.message, "problems": reports.problems(exc.report)}


def _upload_page(request, form, report, *, status: int):
    return render(
        request,
        "dashboard/datasets/upload.html",
        {"nav": "datasets", "form": form, "report": report, "existing": dataset_list()},
        status=status,
    )


def dataset_detail(request, name: str, number: int | None = None):
    dataset = dataset_or_404(name)
    version = dataset_version_or_404(dataset, number)
    counts = version.label_counts or {}
    totals: dict[str, int] = {}
    for split_counts in counts.values():
        for label, n in split_counts.items():
            totals[label] = totals.get(label, 0) + int(n)
    train = counts.get("train") or {}
    label_bars = charts.bars(
        sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])),
        fmt="{:,.0f}",
        notes={k: f"{train.get(k, 0)} for training" for k in totals},
    )
    for bar in label_bars:
        # Few training examples is what makes a label weak, so those bars are flagged.
        bar.flagged = int(train.get(bar.label, 0)) < RARE_LABEL_TRAIN_EXAMPLES
    split_total = sum(version.split_counts.values()) or 1
    return render(
        request,
        "dashboard/datasets/detail.html",
        {
            "nav": "datasets",
            "dataset": dataset,
            "version": version,
            "versions": dataset_version_list(dataset=dataset),
            "problems": reports.problems(version.report or {}),
            "label_bars": label_bars,
            "rare_count": sum(bar.flagged for bar in label_bars),
            "rare_threshold": RARE_LABEL_TRAIN_EXAMPLES,
            "splits": [
                {
                    "name": s,
                    "count": version.split_counts.get(s, 0),
                    "pct": round(100 * version.split_counts.get(s, 0) / split_total, 1),
                }
                for s in ("train", "validation", "test")
            ],
            "examples": _examples_page(request, version),
        },
    )


@require_GET
def dataset_examples(request, name: str, number: int):
    """The example browser alone, for htmx: search, label and split filters, pages."""
    dataset = dataset_or_404(name)
    version = dataset_version_or_404(dataset, number)
    return render(
        request,
        "dashboard/datasets/_examples.html",
        {"dataset": dataset, "version": version, "examples": _examples_page(request, version)},
    )


def _examples_page(request, version) -> dict:
    search = request.GET.get("q", "").strip()[:200]
    label = request.GET.get("label", "").strip()
    split = request.GET.get("split", "")
    if split not in ("train", "validation", "test"):
        split = ""
    rows = dataset_version_examples(
        version=version, split=split or None, label=label or None, search=search or None
    )
    page = Paginator(rows, EXAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    if version.dataset.task == "extraction":
        # Entities are easier to check highlighted in their text than listed beside it.
        colours = {label: i % insights.ENTITY_COLOURS for i, label in enumerate(version.labels)}
        for row in page.object_list:
            row.pieces = insights.segments(row.text, row.entities or [], colours)
    query = urlencode({"q": search, "label": label, "split": split})
    return {
        "page": page,
        "q": search,
        "label": label,
        "split": split,
        "labels": version.labels,
        "query": query,
    }


@require_GET
def dataset_export(request, name: str, number: int, fmt: str):
    version = dataset_version_or_404(dataset_or_404(name), number)
    try:
        content, filename, content_type = dataset_version_export(
            version=version, fmt=fmt, actor=actor(request)
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard-dataset-version", name, number)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def dataset_delete_view(request, name: str, number: int | None = None):
    """Confirm, then delete a dataset (``number`` None) or one version: the page lists what goes with it."""
    dataset = dataset_or_404(name)
    version = dataset_version_or_404(dataset, number) if number is not None else None
    plan = dataset_deletion_plan(dataset=dataset, numbers=[version.number] if version else None)
    if request.method == "POST":
        try:
            if version is None:
                dataset_delete(dataset=dataset, actor=actor(request))
            else:
                dataset_version_delete(version=version, actor=actor(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(request.path)
        if version is None or not dataset_version_list(dataset=dataset):
            what = f"“{dataset.name}”" if version is None else f"“{dataset.name}” v{version.number}"
            messages.success(request, f"Deleted {what}.")
            if version is not None:  # its last version: the dataset is kept, empty, until deleted
                return redirect("dashboard-dataset-delete", dataset.name)
            return redirect("dashboard-datasets")
        messages.success(request, f"Deleted “{dataset.name}” v{version.number}.")
        return redirect("dashboard-dataset", dataset.name)
    return render(
        request,
        "dashboard/datasets/delete.html",
        {"nav": "datasets", "dataset": dataset, "version": version, "plan": plan},
    )


@require_GET
def dataset_compare(request, name: str):
    """Two versions side by side: rows added, removed and relabelled between them."""
    dataset = dataset_or_404(name)
    versions = dataset_version_list(dataset=dataset)
    numbers = [v.number for v in versions]
    if len(numbers) < 2:
        messages.info(request, "A comparison needs two versions; this dataset has one.")
        return redirect("dashboard-dataset", dataset.name)
    try:
        a = int(request.GET.get("a") or numbers[1])
        b = int(request.GET.get("b") or numbers[0])
    except ValueError:
        a, b = numbers[1], numbers[0]
    older = dataset_version_or_404(dataset, a)
    newer = dataset_version_or_404(dataset, b)
    return render(
        request,
        "dashboard/datasets/compare.html",
        {
            "nav": "datasets",
            "dataset": dataset,
            "a": older,
            "b": newer,
            "numbers": numbers,
            "diff": dataset_versions_compare(a=older, b=newer),
        },
    )
