"""The operator console: Django admin on the public schema (tenants, keys, usage, base models, jobs)."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from core.exceptions import ApplicationError
from inference.selectors.training import training_job_get
from inference.services.training import training_job_cancel, training_job_retry
from tenants import services
from tenants.admin_sites import HostileQuerySafeSite
from tenants.models import ApiKey, AuditEntry, BaseModel, Domain, Tenant, UsageDay
from tenants.request_actor import request_actor
from tenants.selectors import tenant_get
from tenants.services import usage_flush
from tenants.two_factor import tenant_security_set
from tenants.validators import InvalidSlug, validate_tenant_slug

from .selectors import (
    platform_jobs_overview,
    platform_overview,
    queue_lengths,
    queues_without_worker,
    usage_by_tenant_month,
    worker_list,
)
from .services import base_model_check, base_model_register


class OperatorAdminSite(HostileQuerySafeSite, admin.AdminSite):
    site_header = "Scalpel operator console"
    site_title = "Scalpel operators"
    index_title = "Platform"
    index_template = "admin/operator_index.html"

    def get_urls(self):
        return [
            path("operations/", self.admin_view(self.operations_view), name="operations"),
            path(
                "operations/jobs/<slug:tenant>/<int:job_id>/<str:action>/",
                self.admin_view(require_POST(self.job_action_view)),
                name="job-action",
            ),
            path("usage-by-tenant/", self.admin_view(self.usage_view), name="usage-by-tenant"),
            path("security/", self.admin_view(self.security_view), name="security"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        usage_flush()  # what this process still buffers belongs in the traffic figures
        return super().index(request, {**(extra_context or {}), "overview": platform_overview()})

    def job_action_view(self, request, tenant: str, job_id: int, action: str):
        """Cancel or retry one tenant's training job, through the same service its users call."""
        services_by_action = {"cancel": training_job_cancel, "retry": training_job_retry}
        workspace = tenant_get(slug=tenant)
        if action not in services_by_action or workspace is None:
            raise Http404("No such job action.")
        with tenant_context(workspace):
            job = training_job_get(job_id=job_id)
            if job is None:
                raise Http404("No such training job in that tenant.")
            try:
                result = services_by_action[action](job=job, actor=request_actor(request))
            except ApplicationError as exc:
                messages.error(request, f"{tenant} job {job_id}: {exc.message}")
            else:
                done = "cancelled" if action == "cancel" else f"retried as job {result.pk}"
                messages.success(request, f"{tenant} job {job_id} {done}.")
        return HttpResponseRedirect(reverse("operator:operations"))

    def usage_view(self, request):
        """Requests and texts per tenant per month; ``?format=csv`` downloads the same table."""
        usage_flush()
        month, rows, months = usage_by_tenant_month(month=request.GET.get("month"))
        if request.GET.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["month", "tenant", "name", "requests", "texts"])
            for row in rows:
                writer.writerow(
                    [month, row["tenant__slug"], row["tenant__name"], row["requests"], row["texts"]]
                )
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="usage-{month}.csv"'
            return response
        context = {
            **self.each_context(request),
            "title": f"Usage per tenant, {month}",
            "month": month,
            "months": months,
            "rows": rows,
            "total_requests": sum(r["requests"] for r in rows),
            "total_texts": sum(r["texts"] for r in rows),
        }
        return TemplateResponse(request, "admin/usage_by_tenant.html", context)

    def operations_view(self, request):
        """Every tenant's training jobs, the queues' depth and the live workers, on one page."""
        live = worker_list()
        context = {
            **self.each_context(request),
            "title": "Queues, workers and training jobs",
            "rows": platform_jobs_overview(),
            "queues": queue_lengths(),
            "workers": live,
            "queues_without_worker": None if live is None else queues_without_worker(live),
        }
        return TemplateResponse(request, "admin/operations.html", context)

    def security_view(self, request):
        """The console's sign-in policy: require two-factor of every operator."""
        console = services.ensure_public_tenant()
        if request.method == "POST":
            tenant_security_set(
                tenant=console,
                require_two_factor=request.POST.get("require_two_factor") == "on",
                actor=request_actor(request),
            )
            state = "required" if console.require_two_factor else "optional"
            messages.success(request, f"Two-factor sign-in is now {state} for the console.")
            return HttpResponseRedirect(request.path)
        context = {**self.each_context(request), "title": "Console sign-in", "console": console}
        return TemplateResponse(request, "admin/security.html", context)


operator_site = OperatorAdminSite(name="operator")
operator_site.register(User, UserAdmin)
operator_site.register(Group, GroupAdmin)


class TenantCreateForm(forms.ModelForm):
    # A plain field, so the slug rules below give their own message instead of Django's generic one.
    slug = forms.CharField(
        max_length=100, help_text="3–40 lowercase letters, digits or hyphens; the tenant's subdomain."
    )
    admin_email = forms.EmailField(
        required=False, help_text="First user of the tenant's own admin and dashboard."
    )
    admin_password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Tenant
        fields = ["slug", "name"]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        try:
            validate_tenant_slug(slug)
        except InvalidSlug as exc:
            raise forms.ValidationError(str(exc)) from exc
        return slug

    def clean(self):
        data = super().clean()
        if "slug" not in data:
            return data  # its own error is shown already
        try:
            services.tenant_create_check(
                slug=data["slug"],
                admin_email=data.get("admin_email") or None,
                admin_password=data.get("admin_password") or None,
            )
        except services.TenantError as exc:
            self.add_error(exc.field, str(exc))
        return data


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant, site=operator_site)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "primary_domain", "training_queue", "created_at"]
    list_filter = ["status", "training_queue"]
    search_fields = ["slug", "name"]
    actions = ["suspend", "reactivate"]
    readonly_fields = ["schema_name", "status", "status_reason", "status_changed_at", "created_at"]
    fields = [
        "slug", "name", "schema_name", "status", "status_reason", "status_changed_at", "created_at",
        "max_concurrent_training_jobs", "max_training_jobs_per_day", "max_dataset_rows",
        "rate_limit_per_minute", "prediction_logging", "prediction_log_retention_days", "training_queue",
    ]  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name="public").prefetch_related("domains")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreateForm
            kwargs["fields"] = ["slug", "name", "admin_email", "admin_password"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["slug", "name", "admin_email", "admin_password"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "slug"]

    def get_inlines(self, request, obj):
        return [DomainInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            # Through the service, which records each change ([before, after]) in the audit log.
            values = {f: getattr(obj, f) for f in form.changed_data if f in services.SETTINGS_FIELDS}
            services.tenant_settings_update(
                tenant=Tenant.objects.get(pk=obj.pk), values=values, actor=request_actor(request)
            )
            return None
        data = form.cleaned_data
        try:
            tenant = services.tenant_create(
                slug=data["slug"],
                name=data.get("name"),
                admin_email=data.get("admin_email") or None,
                admin_password=data.get("admin_password") or None,
                actor=request_actor(request),
            )
        except services.TenantError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            raise
        obj.pk = tenant.pk
        obj.schema_name = tenant.schema_name
        self.message_user(
            request, f"Tenant '{tenant.slug}' is ready at http://{services.tenant_domain(tenant.slug)}/"
        )

    # The confirmation lists what goes (datasets, models, files, ...); deletion goes through the
    # service, which drops the schema and removes files and Redis keys. One tenant at a time.
    delete_confirmation_template = "admin/tenants/tenant/delete_confirmation.html"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def render_delete_form(self, request, context):
        context["summary"] = services.tenant_deletion_summary(tenant=context["object"])
        return super().render_delete_form(request, context)

    def delete_model(self, request, obj):
        services.tenant_delete(tenant=obj, actor=request_actor(request))

    @admin.display(description="Domain")
    def primary_domain(self, obj):
        domain = next((d for d in obj.domains.all() if d.is_primary), None)
        return domain.domain if domain else "-"

    @admin.action(description="Suspend selected tenants (their data is kept)")
    def suspend(self, request, queryset):
        for tenant in queryset:
            services.tenant_suspend(
                tenant=tenant, reason="Suspended by an operator", actor=request_actor(request)
            )
        self.message_user(request, f"Suspended {queryset.count()} tenant(s).")

    @admin.action(description="Reactivate selected tenants")
    def reactivate(self, request, queryset):
        for tenant in queryset:
            services.tenant_reactivate(tenant=tenant, actor=request_actor(request))
        self.message_user(request, f"Reactivated {queryset.count()} tenant(s).")


class BaseModelForm(forms.ModelForm):
    class Meta:
        model = BaseModel
        fields = ["id", "name", "path", "description", "is_active", "training_queue"]

    def clean_path(self):
        path = self.cleaned_data["path"]
        if path:
            try:
                base_model_check(path=path)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from exc
        return path


@admin.register(BaseModel, site=operator_site)
class BaseModelAdmin(admin.ModelAdmin):
    form = BaseModelForm
    list_display = ["id", "name", "model_type", "hidden_size", "num_layers", "training_queue", "is_active"]
    readonly_fields = ["model_type", "hidden_size", "num_layers", "fingerprint", "created_at"]

    def save_model(self, request, obj, form, change):
        # The same registration as every other caller's: the directory is read again and its
        # figures (type, size, layers, fingerprint) stored with the row.
        base_model_register(
            model_id=obj.pk,
            name=obj.name,
            path=obj.path,
            description=obj.description,
            is_active=obj.is_active,
            training_queue=obj.training_queue,
            actor=request_actor(request),
        )
        obj.refresh_from_db()


@admin.register(ApiKey, site=operator_site)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "tenant",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["tenant"]
    readonly_fields = ["tenant", "prefix", "key_hash", "created_at", "created_by", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are created by tenants or `manage.py apikey_create`, shown once

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key, actor=request_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(UsageDay, site=operator_site)
class UsageDayAdmin(admin.ModelAdmin):
    list_display = ["day", "tenant", "key_prefix", "requests", "texts"]
    list_filter = ["tenant", "day"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry, site=operator_site)
class AuditEntryAdmin(admin.ModelAdmin):
    """Every tenant's log and the platform's own, read-only: entries are never edited or deleted."""

    list_display = ["created_at", "tenant", "actor", "actor_kind", "action", "object_repr", "ip_address"]
    list_filter = ["action", "actor_kind", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["actor", "object_repr", "ip_address"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = [
        "created_at", "tenant", "actor_kind", "actor", "ip_address", "action", "object_type", "object_id",
        "object_repr", "details",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
