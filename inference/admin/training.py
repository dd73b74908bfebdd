"""Training jobs in the tenant admin: start with defaults, watch progress, cancel, retry."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.exceptions import ApplicationError
from core.json_limits import json_depth_message, json_too_deep
from inference.engine.training import read_progress
from inference.engine.training.plan import METHODS
from inference.forms import EVALUATE_ON_CHOICES, TimeBudgetFieldMixin
from inference.models import Dataset, TrainingJob, TrainingJobEvent
from inference.services import training as training_services
from tenants.models import BaseModel
from tenants.request_actor import request_actor

from . import tenant_admin_site
from .roles import RoleGate


class TrainingJobStartForm(TimeBudgetFieldMixin, forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all(), to_field_name="name")
    dataset_version = forms.IntegerField(required=False, min_value=1, help_text="Empty: the latest version.")
    model_name = forms.SlugField(max_length=100, help_text="New or existing model; each job adds a version.")
    base_model = forms.ChoiceField(choices=[])
    method = forms.ChoiceField(
        choices=[("auto", "auto (recommended)")] + [(m, m) for m in METHODS],
        initial="auto",
        help_text="auto picks full fine-tuning, or a fast head for a handful of examples per label, and says why.",
    )
    evaluate_on = forms.ChoiceField(
        choices=EVALUATE_ON_CHOICES,
        initial="auto",
        required=False,  # empty: automatic
        help_text="Which rows judge the model; without test rows, part of the training rows is held out.",
    )
    hyperparameters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"epochs": 3, "learning_rate": 0.0001}'}),
        help_text="Optional JSON object; every value left out uses a sensible default.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_model"].choices = [
            (b.id, f"{b.id} · {b.name}") for b in BaseModel.objects.filter(is_active=True)
        ]
        self.fields["base_model"].initial = "minilm-l6"
        self.add_time_budget_field()

    def clean_hyperparameters(self):
        raw = self.cleaned_data["hyperparameters"].strip()
        if not raw:
            return {}
        if json_too_deep(raw):
            raise forms.ValidationError(json_depth_message())
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON ({exc.msg} at character {exc.pos}).") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, like {"epochs": 3}.')
        return value


class TrainingJobEventInline(RoleGate, admin.TabularInline):
    model = TrainingJobEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "level", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def progress_text(job: TrainingJob) -> str:
    if job.status != TrainingJob.Status.RUNNING:
        return job.status
    return read_progress(job.progress).line()


@admin.register(TrainingJob, site=tenant_admin_site)
class TrainingJobAdmin(RoleGate, admin.ModelAdmin):
    role_actions = {"add": "training.start", "train": "training.start"}
    list_display = [
        "id",
        "model_name",
        "dataset_label",
        "status",
        "progress_summary",
        "created_at",
        "finished_at",
        "result",
    ]
    list_filter = ["status", "model_name"]
    inlines = [TrainingJobEventInline]
    actions = ["cancel_jobs", "retry_jobs"]
    readonly_fields = [
        "dataset_version", "model_name", "base_model_id", "method", "resolved_method", "method_reason",
        "hyperparameters", "resolved_hyperparameters", "evaluate_on", "evaluation", "status", "progress_summary",
        "error", "attempts", "worker", "queue", "device", "heartbeat_at", "created_at", "started_at",
        "finished_at", "created_by", "result", "time_budget_seconds",
    ]  # fmt: skip
    fields = readonly_fields

    def get_urls(self):
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name="inference_trainingjob_start"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("tenant_admin:inference_trainingjob_start"))

    def start_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TrainingJobStartForm(request.POST or None, initial={"dataset": request.GET.get("dataset")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                job = training_services.training_job_start(
                    dataset=data["dataset"],
                    dataset_version=data["dataset_version"],
                    model_name=data["model_name"],
                    base_model_id=data["base_model"],
                    method=data["method"],
                    hyperparameters=data["hyperparameters"],
                    time_budget_seconds=form.time_budget_seconds(),
                    evaluate_on=data["evaluate_on"] or "auto",
                    actor=request_actor(request),
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, f"Training job {job.pk} is queued.")
                return HttpResponseRedirect(
                    reverse("tenant_admin:inference_trainingjob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Start training",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/inference/form_page.html", context)

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") or obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "auto_refresh": bool(job and job.is_active)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="test set")
    def evaluation(self, job):
        return (job.evaluation_plan or {}).get("statement", "-")

    @admin.display(description="dataset")
    def dataset_label(self, job):
        return str(job.dataset_version)

    @admin.display(description="progress")
    def progress_summary(self, job):
        return progress_text(job)

    @admin.display(description="model version")
    def result(self, job):
        if not job.model_version_id:
            return job.error[:120] if job.error else "-"
        version = job.model_version
        url = reverse("tenant_admin:inference_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, str(version))

    def has_train_permission(self, request) -> bool:
        return self.role_may(request, "train")

    @admin.action(permissions=["train"], description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                training_services.training_job_cancel(job=job, actor=request_actor(request))
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)

    @admin.action(permissions=["train"], description="Retry selected jobs (same settings)")
    def retry_jobs(self, request, queryset):
        for job in queryset:
            try:
                new = training_services.training_job_retry(job=job, actor=request_actor(request))
                self.message_user(request, f"Job {job.pk} retried as job {new.pk}.")
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
