"""API keys: create (the secret is shown once, with ready-to-run examples), list, revoke.

Keys live in the public schema, so every read goes through selectors filtered by request.tenant.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from inference.selectors.registry import model_list
from tenants.permissions import actor_may, scopes_of_role
from tenants.selectors import api_key_list
from tenants.services import api_key_create, api_key_revoke

from ..forms import ApiKeyCreateForm
from ..lookups import actor, api_key_or_404


def api_key_page(request):
    who = actor(request)
    offered = scopes_of_role(who.role)  # the form offers only what the role may give a key
    created, status = None, 200
    if request.method == "POST":
        # Any scope is accepted by the form: the service refuses, with the reason, what the role lacks.
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            try:
                key, raw = api_key_create(
                    tenant=request.tenant,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    actor=who,
                )
            except ApplicationError as exc:
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                else:  # said above the page: a viewer is not shown the form at all
                    messages.error(request, exc.message)
                status = 403 if exc.code == "permission_denied" else 400
            else:
                created = {"key": key, "raw": raw, **_examples(request, raw)}
                form = ApiKeyCreateForm(scopes=offered)
    else:
        form = ApiKeyCreateForm(scopes=offered)
    response = render(
        request,
        "dashboard/keys/page.html",
        {
            "nav": "api-keys",
            "form": form,
            "created": created,
            "keys": [(key, _may_revoke(who, key)) for key in api_key_list(tenant=request.tenant)],
        },
        status=status,
    )
    if created:
        # The secret is in this page only: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
def api_key_revoke_view(request, key_id: int):
    key = api_key_or_404(request, key_id)
    try:
        api_key_revoke(key=key, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard-api-keys")
    messages.success(
        request, f"The key “{key.name}” ({key.prefix}…) is revoked: calls with it are refused from now on."
    )
    return redirect("dashboard-api-keys")


def _may_revoke(who, key) -> bool:
    own = key.created_by == str(who)
    return actor_may(who, "api_key.revoke_own" if own else "api_key.manage")


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
