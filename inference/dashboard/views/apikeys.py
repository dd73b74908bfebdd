"""API keys: create (the secret is shown once, with ready-to-run examples), list, revoke.

Keys live in the public schema, so every read goes through selectors filtered by request.tenant.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inference.selectors.registry import model_list
from tenants.selectors import api_key_list
from tenants.services import TenantError, api_key_create, api_key_revoke

from ..forms import ApiKeyCreateForm
from ..lookups import actor, api_key_or_404


def api_key_page(request):
    created = None
    if request.method == "POST":
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            try:
                key, raw = api_key_create(
                    tenant=request.tenant,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    created_by=actor(request),
                )
            except TenantError as exc:
                form.add_error(None, str(exc))
            else:
                created = {"key": key, "raw": raw, **_examples(request, raw)}
                form = ApiKeyCreateForm()
    else:
        form = ApiKeyCreateForm()
    response = render(
        request,
        "dashboard/keys/page.html",
        {"nav": "api-keys", "form": form, "created": created, "keys": api_key_list(tenant=request.tenant)},
    )
    if created:
        # The secret is in this page only: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
def api_key_revoke_view(request, key_id: int):
    key = api_key_or_404(request, key_id)
    api_key_revoke(key=key)
    messages.success(
        request, f"The key “{key.name}” ({key.prefix}…) is revoked: calls with it are refused from now on."
    )
    return redirect("dashboard-api-keys")


def _examples(request, raw_key: str) -> dict:
    """curl and Python snippets that work as pasted: the API answers on the platform's own host and port."""
    model = next((m.name for m in model_list() if m.versions.exists()), None) or "your-model"
    # The port the browser used (from the Host header), so the snippet reaches the same server.
    host, _, port = request.get_host().rpartition(":")
    base = "http://localhost" + (f":{port}" if host and port.isdigit() and port != "80" else "")
    url = f"{base}/api/v1/models/{model}/predict"
    body = json.dumps({"inputs": ["I still have not received my card"]})
    curl = (
        f"curl -X POST {url} \\\n"
        f'  -H "Authorization: Bearer {raw_key}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'"
    )
    python = (
        "import json, urllib.request\n\n"
        "request = urllib.request.Request(\n"
        f'    "{url}",\n'
        f"    data=json.dumps({body}).encode(),\n"
        f'    headers={{"Authorization": "Bearer {raw_key}", "Content-Type": "application/json"}},\n'
        ")\n"
        "with urllib.request.urlopen(request) as response:\n"
        "    print(json.load(response))"
    )
    return {"url": url, "curl": curl, "python": python, "model": model}
