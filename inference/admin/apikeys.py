"""The workspace's API keys in the tenant admin: create (shown once), list, revoke.

ApiKey lives in the public schema with a tenant column, so every query here is filtered to
``request.tenant``; the tenant is never a form field.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from core.exceptions import ApplicationError
from tenants.models import ApiKey
from tenants.permissions import key_scopes_check
from tenants.request_actor import request_actor
from tenants.selectors import api_key_list
from tenants.services import api_key_create, api_key_revoke

from . import tenant_admin_site
from .roles import RoleGate

DETAIL_FIELDS = [
    "name",
    "prefix",
    "scopes",
    "created_at",
    "created_by",
    "expires_at",
    "revoked_at",
    "last_used_at",
]


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in ApiKey.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=["predict", "read"],
        help_text="predict: call models; data: upload data; train: start and cancel jobs; read: read everything; "
        "admin: all of these, and promote and roll back models.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]

    actor = None  # set per request by ApiKeyAdmin.get_form

    def clean_scopes(self):
        scopes = self.cleaned_data["scopes"]
        if self.actor is not None:
            try:
                key_scopes_check(actor=self.actor, scopes=scopes)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from exc
        return scopes

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(
                "The expiry date is in the past: choose a future date or leave it empty."
            )
        return expires_at


@admin.register(ApiKey, site=tenant_admin_site)
class ApiKeyAdmin(RoleGate, admin.ModelAdmin):
    role_actions = {"add": "api_key.create", "revoke": "api_key.revoke_own"}
    list_display = [
        "name",
        "shown_prefix",
        "shown_scopes",
        "state",
        "last_used_at",
        "expires_at",
        "created_at",
    ]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    form = ApiKeyCreateForm

    def get_queryset(self, request):
        # The one place this admin reads keys: the current workspace's only.
        return api_key_list(tenant=request.tenant)

    def get_fields(self, request, obj=None):
        return DETAIL_FIELDS if obj is not None else ["name", "scopes", "expires_at"]

    def get_readonly_fields(self, request, obj=None):
        return DETAIL_FIELDS if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False  # a key is immutable: revoke it and create another

    def has_revoke_permission(self, request) -> bool:
        return self.role_may(request, "revoke")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # The form refuses, next to the scopes, what the service would refuse for this user's role.
        return type(form.__name__, (form,), {"actor": request_actor(request)})

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay listed, with their usage

    def save_model(self, request, obj, form, change):
        key, raw_key = api_key_create(
            tenant=request.tenant,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=request_actor(request),
        )
        # The admin logs and redirects with ``obj``: make it the key the service created.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        self.message_user(
            request,
            format_html(
                "Copy this API key now, it is not shown again: <code>{}</code>. "
                "Send it as <code>Authorization: Bearer &lt;key&gt;</code>.",
                raw_key,
            ),
            messages.WARNING,
        )

    @admin.action(
        permissions=["revoke"], description="Revoke the selected keys (effective on their next request)"
    )
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset:
            try:
                api_key_revoke(key=key, actor=request_actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"{key.name}: {exc.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")

    @admin.display(description="prefix")
    def shown_prefix(self, key):
        return f"scl_{key.prefix}_…"

    @admin.display(description="scopes")
    def shown_scopes(self, key):
        return ", ".join(key.scopes)

    @admin.display(description="state")
    def state(self, key):
        if key.revoked_at is not None:
            return "revoked"
        if key.expires_at is not None and key.expires_at <= timezone.now():
            return "expired"
        return "active"
