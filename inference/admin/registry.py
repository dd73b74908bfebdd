"""Models and versions in the tenant admin: evaluation, promotion, rollback, comparison."""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import model_ngettext, unquote
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.exceptions import ApplicationError
from inference.insights import confusion_focus
from inference.models import AliasChange, Model, ModelVersion
from inference.selectors.registry import model_aliases, model_version_interval, model_version_warnings
from inference.services import registry as registry_services
from tenants.request_actor import request_actor

from . import tenant_admin_site
from .roles import RoleGate

# Up to this many labels the confusion matrix is shown whole; above, the labels in the most mistakes.
CONFUSION_MAX_LABELS = 30
COMPARE_LINKS_SHOWN = 20


class DeleteThroughServiceMixin:
    """Every admin deletion, one object or "delete selected", goes through the registry's delete
    service, which removes the files with the rows and refuses what an alias still uses; a refusal
    is shown as an admin message."""

    def deletion_refusal(self, obj) -> str:
        raise NotImplementedError

    def delete_through_service(self, request, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_through_service(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_through_service(request, obj)

    def _refused(self, request, obj, message: str) -> HttpResponseRedirect:
        self.message_user(request, message, messages.ERROR)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        # Said before the confirmation page, rather than after the user has confirmed.
        refusal = self.deletion_refusal(obj) if obj is not None else ""
        if refusal:
            return self._refused(request, obj, refusal)
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:  # an alias moved onto it since the page was shown
            return self._refused(request, obj, exc.message)

    @admin.action(
        permissions=["delete"], description="Delete selected %(verbose_name_plural)s and their files"
    )
    def delete_selected(self, request, queryset):
        # What the service would refuse is said now and left out, so the confirmation is about the rest.
        deletable = []
        for obj in queryset:
            refusal = self.deletion_refusal(obj)
            if refusal:
                self.message_user(request, refusal, messages.ERROR)
            else:
                deletable.append(obj.pk)
        if not deletable:
            return None
        queryset = queryset.filter(pk__in=deletable)
        if not request.POST.get("post"):
            return django_delete_selected(self, request, queryset)  # Django's confirmation page
        deleted = 0
        for obj in queryset:
            try:
                self.delete_through_service(request, obj)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.log_deletions(request, [obj])
                deleted += 1
        if deleted:
            self.message_user(
                request,
                f"Deleted {deleted} {model_ngettext(self.opts, deleted)} and their files.",
                messages.SUCCESS,
            )
        return None


class AliasChangeInline(RoleGate, admin.TabularInline):
    model = AliasChange
    extra = 0
    can_delete = False
    fields = [
        "created_at", "alias", "action", "from_version", "to_version", "actor", "forced", "override_reason", "note",
    ]  # fmt: skip
    readonly_fields = fields
    verbose_name_plural = "promotion and rollback history"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Model, site=tenant_admin_site)
class ModelAdmin(RoleGate, DeleteThroughServiceMixin, admin.ModelAdmin):
    role_actions = {"change": "model.promote", "delete": "model.delete", "rollback": "model.rollback"}
    list_display = ["name", "task", "production", "staging", "versions_count", "created_at"]
    readonly_fields = ["name", "task", "created_at", "versions_table"]
    fields = ["name", "task", "description", "created_at", "versions_table"]
    inlines = [AliasChangeInline]
    actions = ["rollback_production", "remove_production", "remove_staging", "delete_selected"]

    def has_add_permission(self, request):
        return False  # models come from training jobs

    def deletion_refusal(self, obj) -> str:
        return registry_services.model_deletion_refusal(model=obj)

    def delete_through_service(self, request, obj) -> None:
        registry_services.model_delete(model=obj, actor=request_actor(request))

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
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">v{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("tenant_admin:inference_modelversion_change", args=[v.pk]),
                    v.number,
                    v.headline_metric,
                    _fmt(v.headline_value),
                    _fmt(v.baseline_value),
                    ", ".join(aliases.get(v.number, [])) or "-",
                    v.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for v in model.versions.order_by("-number")
            ),
        )
        return format_html(
            "<table><tr><th>version</th><th>metric</th><th>test</th><th>baseline</th><th>aliases</th>"
            "<th>created</th></tr>{}</table>",
            rows,
        )

    def has_rollback_permission(self, request) -> bool:
        return self.role_may(request, "rollback")

    @admin.action(permissions=["rollback"], description="Roll production back to the previous version")
    def rollback_production(self, request, queryset):
        for model in queryset:
            with _reported(self, request):
                alias = registry_services.model_rollback(model=model, actor=request_actor(request))
                self.message_user(request, f"{model.name}: production is now v{alias.version.number}.")

    @admin.action(
        permissions=["rollback"],
        description="Take the production alias off (the model stops having a production version)",
    )
    def remove_production(self, request, queryset):
        self._remove_alias(request, queryset, "production")

    @admin.action(permissions=["rollback"], description="Take the staging alias off")
    def remove_staging(self, request, queryset):
        self._remove_alias(request, queryset, "staging")

    def _remove_alias(self, request, queryset, alias: str) -> None:
        for model in queryset:
            with _reported(self, request):
                number = registry_services.model_alias_remove(
                    model=model, alias=alias, actor=request_actor(request)
                )
                self.message_user(request, f"{model.name}: {alias} no longer points at v{number}.")


@contextlib.contextmanager
def _reported(model_admin, request, level=messages.WARNING):
    """Run one object's service call of a bulk action; a refusal becomes that object's message."""
    try:
        yield
    except ApplicationError as exc:
        model_admin.message_user(request, exc.message, level)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


@admin.register(ModelVersion, site=tenant_admin_site)
class ModelVersionAdmin(RoleGate, DeleteThroughServiceMixin, admin.ModelAdmin):
    role_actions = {"delete": "model.delete", "promote": "model.promote"}
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
    actions = [
        "promote_production",
        "promote_staging",
        "override_promote_production",
        "compare_selected",
        "delete_selected",
    ]
    readonly_fields = [
        "model", "number", "evaluation_summary", "compare_with", "method", "base_model_id", "runtime",
        "hyperparameters", "dataset_version", "dataset_hash", "artifact_path", "artifact_checksum",
        "artifact_bytes", "library_versions", "training_job", "created_at",
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
        m = v.metrics or {}
        context = {
            "v": v,
            "m": m,
            # Chosen here: a template filter argument naming a missing key raises, and the admin
            # then shows the whole evaluation as empty.
            "per_label": m.get("per_label") or m.get("per_type"),
            "per_label_kind": "label" if m.get("per_label") else "entity type",
            "confusion": confusion_focus(m, max_labels=CONFUSION_MAX_LABELS),
            "interval": model_version_interval(version=v),
            "score_warnings": model_version_warnings(version=v),
        }
        return mark_safe(render_to_string("admin/inference/evaluation.html", context))  # noqa: S308

    @admin.display(description="compare with…")
    def compare_with(self, v):
        links = format_html_join(
            " · ", '<a href="{}">v{}</a>', ((_compare_url(v.pk, o.pk), o.number) for o in _other_versions(v))
        )
        return links or "no other version of this model yet"

    def _promote(self, request, queryset, alias, override_reason=""):
        for version in queryset:
            with _reported(self, request, level=messages.ERROR):
                registry_services.model_version_promote(
                    version=version,
                    alias=alias,
                    actor=request_actor(request),
                    override_reason=override_reason,
                )
                self.message_user(request, f"{version} is now {alias}.")

    def has_promote_permission(self, request) -> bool:
        return self.role_may(request, "promote")

    @admin.action(permissions=["promote"], description="Promote to production")
    def promote_production(self, request, queryset):
        self._promote(request, queryset, "production")

    @admin.action(permissions=["promote"], description="Promote to staging")
    def promote_staging(self, request, queryset):
        self._promote(request, queryset, "staging")

    @admin.action(
        permissions=["promote"], description="Promote to production over the quality check (asks why)"
    )
    def override_promote_production(self, request, queryset):
        """A page that shows why the gate refuses and asks for the reason to override it."""
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one version to promote over the quality check.", messages.WARNING
            )
            return None
        version = queryset.select_related("model").get()
        form = OverrideForm(request.POST if "override_reason" in request.POST else None)
        if form.is_valid():
            self._promote(
                request, queryset, "production", override_reason=form.cleaned_data["override_reason"]
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Promote {version} to production over the quality check",
            "opts": self.model._meta,
            "version": version,
            "form": form,
            "problems": registry_services.promotion_problems(version=version),
            "action": "override_promote_production",
        }
        return TemplateResponse(request, "admin/inference/modelversion/override.html", context)

    def deletion_refusal(self, obj) -> str:
        return registry_services.model_version_deletion_refusal(version=obj)

    def delete_through_service(self, request, obj) -> None:
        registry_services.model_version_delete(version=obj, actor=request_actor(request))

    @admin.action(description="Compare the two selected versions")
    def compare_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(
                request, "Select exactly two versions of one model to compare.", messages.WARNING
            )
            return None
        return HttpResponseRedirect(_compare_url(*ids))

    def compare_view(self, request):
        versions, refusal = _versions_from_query(request.GET.getlist("v"))
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(reverse("tenant_admin:inference_modelversion_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Compare versions",
            "opts": self.model._meta,
        }
        if len(versions) == 1:
            # Opened from a version's "Compare with…": let the user pick the other side.
            context["version"] = versions[0]
            context["others"] = [
                (v, _compare_url(versions[0].pk, v.pk)) for v in _other_versions(versions[0])
            ]
            return TemplateResponse(request, "admin/inference/compare.html", context)
        a, b = sorted(versions, key=lambda v: v.number)
        try:
            context["comparison"] = registry_services.model_versions_compare(a=a, b=b)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("tenant_admin:inference_modelversion_changelist"))
        context["a"], context["b"] = a, b
        return TemplateResponse(request, "admin/inference/compare.html", context)


class OverrideForm(forms.Form):
    override_reason = forms.CharField(
        label="Why promote it anyway?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Kept in the promotion history and the audit log.",
        error_messages={"required": "Say why this version should be served despite the quality check."},
    )


def _compare_url(*ids: int) -> str:
    query = "&".join(f"v={pk}" for pk in ids)
    return f"{reverse('tenant_admin:inference_modelversion_compare')}?{query}"


def _other_versions(version: ModelVersion):
    return version.model.versions.exclude(pk=version.pk).order_by("-number")[:COMPARE_LINKS_SHOWN]


def _versions_from_query(raw: list[str]) -> tuple[list[ModelVersion], str]:
    """The versions named by ``?v=`` ids (one or two), or a message saying what is wrong with them."""
    if not raw or len(raw) > 2:
        return [], "Choose one or two versions to compare: open a version and use “Compare with…”."
    ids = []
    for value in raw:
        try:
            pk = int(value)
        except ValueError:
            pk = 0
        if not 0 < pk < 2**63:  # an id column is 64 bits; anything else cannot name a version
            return [], f"“{value}” is not a version id: open a version and use “Compare with…”."
        ids.append(pk)
    versions = list(ModelVersion.objects.filter(pk__in=ids).select_related("model"))
    missing = sorted(set(ids) - {v.pk for v in versions})
    if missing:
        return [], f"There is no version with id {missing[0]} in this workspace. Perhaps it was deleted?"
    if len(versions) == 1 and len(ids) == 2:
        return [], "Choose two different versions to compare."
    return versions, ""
