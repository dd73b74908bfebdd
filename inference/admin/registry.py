"""Models and versions in the tenant admin: evaluation, promotion, rollback, comparison."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from inference.models import AliasChange, Model, ModelVersion
from inference.selectors.registry import model_aliases
from inference.services import registry as registry_services
from inference.services.errors import ServiceError

from . import tenant_admin_site


class AliasChangeInline(admin.TabularInline):
    model = AliasChange
    extra = 0
    can_delete = False
    fields = ["created_at", "alias", "action", "from_version", "to_version", "actor", "forced", "note"]
    readonly_fields = fields
    verbose_name_plural = "promotion and rollback history"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Model, site=tenant_admin_site)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "task", "production", "staging", "versions_count", "created_at"]
    readonly_fields = ["name", "task", "created_at", "versions_table"]
    fields = ["name", "task", "description", "created_at", "versions_table"]
    inlines = [AliasChangeInline]
    actions = ["rollback_production"]

    def has_add_permission(self, request):
        return False  # models come from training jobs

    @admin.display(description="production")
    def production(self, model):
        return model_aliases(model=model).get("production", "-")

    @admin.display(description="staging")
    def staging(self, model):
        return model_aliases(model=model).get("staging", "-")

    @admin.display(description="versions")
    def versions_count(self, model):
        return model.versions.count()

    @admin.display(description="versions")
    def versions_table(self, model):
        aliases = {}
        for alias, number in model_aliases(model=model).items():
            aliases.setdefault(number, []).append(alias)
        rows = []
        for v in model.versions.order_by("-number"):
            url = reverse("tenant_admin:inference_modelversion_change", args=[v.pk])
            rows.append(
                format_html(
                    '<tr><td><a href="{}">v{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                    url,
                    v.number,
                    v.headline_metric,
                    _fmt(v.headline_value),
                    _fmt(v.baseline_value),
                    ", ".join(aliases.get(v.number, [])) or "-",
                    v.created_at.strftime("%Y-%m-%d %H:%M"),
                )  # fmt: skip
            )
        header = "<tr><th>version</th><th>metric</th><th>test</th><th>baseline</th><th>aliases</th><th>created</th></tr>"
        return format_html("<table>{}{}</table>", format_html(header), format_html("".join(rows)))

    @admin.action(description="Roll production back to the previous version")
    def rollback_production(self, request, queryset):
        for model in queryset:
            try:
                alias = registry_services.model_rollback(model=model, actor=request.user.get_username())
                self.message_user(request, f"{model.name}: production is now v{alias.version.number}.")
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.WARNING)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


@admin.register(ModelVersion, site=tenant_admin_site)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "headline_metric",
        "test_score",
        "baseline_score",
        "method",
        "runtime",
        "aliases_label",
        "created_at",
    ]
    list_filter = ["model"]
    actions = ["promote_production", "promote_staging", "force_promote_production"]
    readonly_fields = [
        "model", "number", "evaluation_summary", "method", "base_model_id", "runtime", "hyperparameters",
        "dataset_version", "dataset_hash", "artifact_path", "artifact_checksum", "artifact_bytes",
        "library_versions", "training_job", "created_at",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") or obj is None

    def get_urls(self):
        return [
            path(
                "compare/",
                self.admin_site.admin_view(self.compare_view),
                name="inference_modelversion_compare",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="test")
    def test_score(self, v):
        return _fmt(v.headline_value)

    @admin.display(description="baseline")
    def baseline_score(self, v):
        return _fmt(v.baseline_value)

    @admin.display(description="aliases")
    def aliases_label(self, v):
        return ", ".join(v.aliases.values_list("alias", flat=True)) or "-"

    @admin.display(description="evaluation")
    def evaluation_summary(self, v):
        # The template escapes every value it prints, so its output is safe to embed.
        return mark_safe(render_to_string("admin/inference/evaluation.html", {"v": v, "m": v.metrics}))  # noqa: S308

    def _promote(self, request, queryset, alias, force=False):
        for version in queryset:
            try:
                registry_services.model_version_promote(
                    version=version, alias=alias, actor=request.user.get_username(), force=force
                )
                self.message_user(request, f"{version} is now {alias}.")
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Promote to production")
    def promote_production(self, request, queryset):
        self._promote(request, queryset, "production")

    @admin.action(description="Promote to staging")
    def promote_staging(self, request, queryset):
        self._promote(request, queryset, "staging")

    @admin.action(description="Promote to production even if it fails the evaluation gates")
    def force_promote_production(self, request, queryset):
        self._promote(request, queryset, "production", force=True)

    def delete_model(self, request, obj):
        registry_services.model_version_delete(version=obj, actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.aliases.exists():
            self.message_user(
                request,
                f"{obj} is in use as {', '.join(obj.aliases.values_list('alias', flat=True))}: promote another version first.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("tenant_admin:inference_modelversion_change", args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)

    def compare_view(self, request):
        ids = request.GET.getlist("v")
        versions = list(ModelVersion.objects.filter(pk__in=ids).select_related("model"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Compare versions",
            "opts": self.model._meta,
        }
        if len(versions) == 2:
            a, b = sorted(versions, key=lambda v: v.number)
            try:
                context["comparison"] = registry_services.model_versions_compare(a=a, b=b)
                context["a"], context["b"] = a, b
            except ServiceError as exc:
                context["error"] = exc.message
        else:
            context["error"] = "Choose exactly two versions of one model to compare."
        return TemplateResponse(request, "admin/inference/compare.html", context)
