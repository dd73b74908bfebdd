"""The workspace's API keys in the tenant admin: create (shown once), list, revoke.

ApiKey lives in the public schema with a tenant column, so every query here is filtered to
``request.tenant``; the tenant is never a form field.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from tenants.models import ApiKey
from tenants.selectors import api_key_list
from tenants.services import api_key_create, api_key_revoke

from . import tenant_admin_site

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
        help_text="predict: call models; data: upload data; train: start jobs and promote; read: read everything; "
        "admin: all of these.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(
                "The expiry date is in the past: choose a future date or leave it empty."
            )
        return expires_at


@admin.register(ApiKey, site=tenant_admin_site)
class ApiKeyAdmin(admin.ModelAdmin):
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

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay listed, with their usage

    def save_model(self, request, obj, form, change):
        key, raw_key = api_key_create(
            tenant=request.tenant,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            created_by=request.user.get_username(),
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

    @admin.action(description="Revoke the selected keys (effective on their next request)")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")

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
