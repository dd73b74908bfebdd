"""Datasets in the tenant admin: upload a file as a new version, read versions, rows and upload attempts.

Every write goes through ``inference.services.datasets``; these classes only render forms and
results. Versions, rows and attempts are immutable records, so their admin pages are read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_protect

from core.exceptions import ApplicationError
from inference.engine.types import SPLITS
from inference.forms import DatasetUploadOptionsForm
from inference.models import Dataset, DatasetUpload, DatasetVersion, Example
from inference.models.datasets import TASK_CHOICES
from inference.selectors.datasets import dataset_version_list
from inference.services.datasets import (
    DatasetUploadError,
    dataset_delete,
    dataset_deletion_plan,
    dataset_upload,
    dataset_version_delete,
    dataset_version_export,
)
from inference.services.datasets.limits import upload_limit_guard
from tenants.request_actor import request_actor

from . import tenant_admin_site
from .registry import DeleteThroughServiceMixin
from .roles import RoleGate

REPORT_ERRORS_SHOWN = 50


class DatasetUploadForm(DatasetUploadOptionsForm):
    """The shared upload options plus ``name`` and ``task``, which only a new dataset asks for."""

    name = forms.CharField(
        max_length=100, help_text="Letters, digits, hyphens and underscores, e.g. support-tickets."
    )
    task = forms.ChoiceField(choices=TASK_CHOICES)
    file = forms.FileField(help_text="CSV, TSV, JSON Lines or CoNLL (UTF-8).")
    field_order = ["name", "task", "file", "text_column", "label_column", "format", "split_column", "split"]
    _ADMIN_LABELS = {
        "text_column": "Text column",
        "label_column": "Label column",
        "split_column": "Split column",
    }

    def __init__(self, *args, dataset: Dataset | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self._ADMIN_LABELS.items():
            self.fields[name].label = label
        if dataset is not None:
            # The dataset's task and declared labels are fixed; a version only brings rows.
            for name in ("name", "task", "labels"):
                del self.fields[name]


class NotFoundInsteadOfRedirect:
    """A missing object (or another tenant's id) is a 404, not Django's redirect to the index."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such record in this workspace.")
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyAdmin(RoleGate, NotFoundInsteadOfRedirect, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def report_html(report: dict | None) -> str:
    """A validation report (summary, errors with lines, warnings, findings) as admin HTML."""
    report = report or {}
    errors = report.get("errors", [])
    return render_to_string(
        "admin/inference/dataset/report.html",
        {
            "report": report,
            "errors": errors[:REPORT_ERRORS_SHOWN],
            "more_errors": max(0, report.get("error_count", len(errors)) - REPORT_ERRORS_SHOWN),
        },
    )


def table_html(headers: list[str], rows: list[tuple]) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class DataDeletion(DeleteThroughServiceMixin):
    """Deleting datasets and versions through the service; the confirmation lists what goes with them
    (versions, examples, the model versions trained on them, jobs, files) instead of Django's rows."""

    def deletion_plan(self, obj):
        raise NotImplementedError

    def deletion_refusal(self, obj) -> str:
        return " ".join(self.deletion_plan(obj).refusals)

    def get_deleted_objects(self, objs, request):
        lines, refusals = [], []
        counts = {"versions": 0, "examples": 0, "model versions": 0, "training jobs": 0, "files": 0}
        for obj in objs:
            plan = self.deletion_plan(obj)
            refusals += plan.refusals
            counts["versions"] += len(plan.versions)
            counts["examples"] += plan.examples
            counts["model versions"] += len(plan.model_versions)
            counts["training jobs"] += plan.jobs
            counts["files"] += plan.files
            trained = ", ".join(plan.model_versions) or "none"
            lines.append(
                f"{obj}: {len(plan.versions)} version(s), {plan.examples:,} examples, "
                f"model versions trained on it: {trained}; {plan.jobs} training job(s); {plan.files} file(s)"
            )
        return lines, {k: v for k, v in counts.items() if v}, set(), refusals


def admin_url(name: str, *args) -> str:
    return reverse(f"{tenant_admin_site.name}:inference_{name}", args=args)


@admin.register(Dataset, site=tenant_admin_site)
class DatasetAdmin(RoleGate, NotFoundInsteadOfRedirect, DataDeletion, admin.ModelAdmin):
    role_actions = {"add": "dataset.upload", "delete": "dataset.delete"}
    list_display = ["name", "task", "version_count", "latest_rows", "created_at"]
    list_filter = ["task"]
    search_fields = ["name", "description"]
    fields = ["name", "task", "label_set", "description", "created_at", "created_by", "versions"]
    readonly_fields = fields
    change_form_template = "admin/inference/dataset/change_form.html"

    actions = ["delete_selected"]

    # Datasets change only by gaining versions, which the upload page adds through the service.
    def has_change_permission(self, request, obj=None):
        return False

    def deletion_plan(self, obj):
        return dataset_deletion_plan(dataset=obj)

    def delete_through_service(self, request, obj) -> None:
        dataset_delete(dataset=obj, actor=request_actor(request))

    @admin.display(description="versions")
    def version_count(self, obj: Dataset) -> int:
        return obj.versions.count()

    @admin.display(description="rows (latest)")
    def latest_rows(self, obj: Dataset):
        latest = obj.latest_version
        return latest.row_count if latest else "—"

    @admin.display(description="versions")
    def versions(self, obj: Dataset):
        rows = [
            (
                format_html('<a href="{}">v{}</a>', admin_url("datasetversion_change", v.pk), v.number),
                f"{v.row_count:,}",
                ", ".join(f"{split} {v.split_counts.get(split, 0):,}" for split in SPLITS),
                len(v.labels),
                "yes" if v.trainable else "no (see findings)",
                v.source_kind,
                v.source_filename or "—",
                v.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for v in dataset_version_list(dataset=obj)
        ]
        if not rows:
            return "No versions yet: upload a file."
        return table_html(
            ["version", "rows", "splits", "labels", "trainable", "source", "file", "created"], rows
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="inference_dataset_upload"),
            path("<path:object_id>/upload/", view(self.upload_view), name="inference_dataset_upload_version"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # A dataset is created by its first upload, so "Add" is the upload page.
        return HttpResponseRedirect(admin_url("dataset_upload"))

    def upload_view(self, request, object_id: str | None = None):
        # Exempt from the CSRF middleware, which would read the body before the size guard runs;
        # the page is CSRF-protected below once the guard is in place.
        guard = upload_limit_guard(request)
        if guard.refusal():
            # Refused on the declared size: nothing was read (not even the CSRF token), and nothing is saved.
            dataset = self._upload_target(request, object_id)
            return self._upload_response(
                request, DatasetUploadForm(dataset=dataset), dataset, guard.refusal()
            )
        return csrf_protect(self._upload_page)(request, object_id, guard)

    upload_view.csrf_exempt = True

    def _upload_target(self, request, object_id: str | None) -> Dataset | None:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if object_id is None:
            return None
        dataset = self.get_object(request, unquote(object_id))
        if dataset is None:
            raise Http404("No such dataset in this workspace.")
        return dataset

    def _upload_page(self, request, object_id: str | None, guard):
        dataset = self._upload_target(request, object_id)
        form = DatasetUploadForm(request.POST or None, request.FILES or None, dataset=dataset)
        if guard.refusal():  # the file passed the limit while the body was read
            return self._upload_response(request, form, dataset, guard.refusal())
        report = None
        if request.method == "POST" and form.is_valid():
            version, report = self._upload(request, form, dataset)
            if version is not None:
                messages.success(request, version.report.get("summary") or f"Version {version.number} saved.")
                return HttpResponseRedirect(admin_url("datasetversion_change", version.pk))
        return self._upload_response(request, form, dataset, report)

    def _upload_response(self, request, form, dataset: Dataset | None, report):
        """The upload page; ``report`` is a refusal's report, or a too-large refusal itself (answered 413)."""
        status = 200
        if isinstance(report, DatasetUploadError):
            report, status = report.report, 413
        title = f"Upload a new version of {dataset.name}" if dataset else "Upload a dataset"
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "dataset": dataset,
            "form": form,
            "report": report_html(report) if report else None,
        }
        return TemplateResponse(request, "admin/inference/dataset/upload.html", context, status=status)

    def _upload(self, request, form: DatasetUploadForm, dataset: Dataset | None):
        """Call the service; a refusal comes back as its report for the page to show."""
        data = form.cleaned_data
        upload = data["file"]
        try:
            version = dataset_upload(
                name=dataset.name if dataset else data["name"],
                file=upload,
                filename=upload.name,
                task=dataset.task if dataset else data["task"],
                **form.upload_kwargs(),
                actor=request_actor(request),
            )
        except DatasetUploadError as exc:
            return None, exc.report
        except ApplicationError as exc:  # refused before the file was read (the user's role)
            form.add_error(None, exc.message)
            return None, None
        return version, None


class LabelFilter(admin.SimpleListFilter):
    """Filter rows by label whatever the task: the label, one of the labels, or an entity type."""

    title = "label"
    parameter_name = "label"

    def lookups(self, request, model_admin):
        labels = set()
        for version_labels in DatasetVersion.objects.values_list("labels", flat=True):
            labels.update(version_labels or [])
        return [(label, label) for label in sorted(labels)]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(
            Q(label=value) | Q(labels__contains=[value]) | Q(entities__contains=[{"label": value}])
        )


@admin.register(DatasetVersion, site=tenant_admin_site)
class DatasetVersionAdmin(DataDeletion, ReadOnlyAdmin):
    role_actions = {"delete": "dataset.delete"}
    actions = ["delete_selected"]
    list_display = ["__str__", "row_count", "trainable", "source_kind", "source_filename", "created_at"]
    list_filter = ["dataset", "trainable", "source_kind"]
    list_select_related = ["dataset"]
    fields = [
        "dataset", "number", "parent", "summary", "row_count", "split_table", "label_table", "findings",
        "warnings", "trainable", "content_hash", "source_filename", "source_file", "format", "encoding",
        "split_config", "source_kind", "created_at", "created_by", "links",
    ]  # fmt: skip
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return RoleGate.has_delete_permission(self, request, obj)

    def deletion_plan(self, obj):
        return dataset_deletion_plan(dataset=obj.dataset, numbers=[obj.number])

    def delete_through_service(self, request, obj) -> None:
        dataset_version_delete(version=obj, actor=request_actor(request))

    @admin.display(description="summary")
    def summary(self, obj: DatasetVersion) -> str:
        return obj.report.get("summary", "")

    @admin.display(description="rows per split")
    def split_table(self, obj: DatasetVersion):
        return table_html(["split", "rows"], [(s, f"{obj.split_counts.get(s, 0):,}") for s in SPLITS])

    @admin.display(description="rows per label")
    def label_table(self, obj: DatasetVersion):
        # Stored as jsonb, whose key order is not the file's: show the splits in their usual order.
        counts = obj.label_counts
        rows = [(label, *(f"{counts.get(s, {}).get(label, 0):,}" for s in SPLITS)) for label in obj.labels]
        return table_html(["label", *SPLITS], rows)

    @admin.display(description="findings")
    def findings(self, obj: DatasetVersion):
        found = obj.report.get("findings", [])
        if not found:
            return "No problems found."
        return format_html_join(
            "", "<p><strong>{}</strong>: {}</p>", ((f["severity"], f["message"]) for f in found)
        )

    @admin.display(description="warnings")
    def warnings(self, obj: DatasetVersion):
        return format_html_join("", "<p>{}</p>", ((w,) for w in obj.report.get("warnings", []))) or "None."

    @admin.display(description="rows and exports")
    def links(self, obj: DatasetVersion):
        rows = admin_url("example_changelist") + f"?version__id__exact={obj.pk}"
        export = [
            (admin_url("datasetversion_export", obj.pk, fmt), fmt.upper()) for fmt in self.export_formats(obj)
        ]
        return format_html(
            '<a href="{}">Browse the rows</a> · Download: {}',
            rows,
            format_html_join(" ", '<a href="{}">{}</a>', export),
        )

    @staticmethod
    def export_formats(obj: DatasetVersion) -> list[str]:
        return ["jsonl"] if obj.dataset.task == "extraction" else ["csv", "jsonl"]

    def get_urls(self):
        return [
            path(
                "<path:object_id>/export/<str:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name="inference_datasetversion_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request, object_id: str, fmt: str):
        version = self.get_object(request, unquote(object_id))
        if version is None or not self.has_view_permission(request, version):
            raise Http404("No such dataset version in this workspace.")
        try:
            content, filename, content_type = dataset_version_export(
                version=version, fmt=fmt, actor=request_actor(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(admin_url("datasetversion_change", version.pk))
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(Example, site=tenant_admin_site)
class ExampleAdmin(ReadOnlyAdmin):
    list_display = ["index", "short_text", "annotation", "split", "version", "line"]
    list_filter = [LabelFilter, "split", "version"]
    list_select_related = ["version__dataset"]
    search_fields = ["text"]
    show_full_result_count = False  # counting a large version twice per page is slow
    list_per_page = 100

    @admin.display(description="text")
    def short_text(self, obj: Example) -> str:
        return obj.text if len(obj.text) <= 120 else obj.text[:119] + "…"

    @admin.display(description="label")
    def annotation(self, obj: Example) -> str:
        if obj.entities is not None:
            return ", ".join(f"{obj.text[e['start'] : e['end']]} ({e['label']})" for e in obj.entities) or "—"
        if obj.labels is not None:
            return " | ".join(obj.labels) or "—"
        return obj.label


@admin.register(DatasetUpload, site=tenant_admin_site)
class DatasetUploadAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "dataset_name", "filename", "status", "summary", "version", "created_by"]
    list_filter = ["status"]
    search_fields = ["dataset_name", "filename"]
    list_select_related = ["version__dataset"]
    fields = [
        "dataset_name",
        "filename",
        "size_bytes",
        "status",
        "version",
        "options",
        "report_view",
        "created_at",
        "created_by",
    ]
    readonly_fields = fields

    @admin.display(description="summary")
    def summary(self, obj: DatasetUpload) -> str:
        return obj.report.get("summary", "")

    @admin.display(description="report")
    def report_view(self, obj: DatasetUpload) -> str:
        return report_html(obj.report)
