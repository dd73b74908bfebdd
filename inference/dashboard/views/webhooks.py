"""Webhooks: register endpoints, read the delivery log, send a test event."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from inference.models import WebhookEndpoint
from inference.services.webhooks import (
    EVENTS,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_send_test,
)

from ..forms import WebhookEndpointForm
from ..lookups import actor


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def webhook_list(request):
    form = WebhookEndpointForm(
        request.POST or None, events={k: v for k, v in EVENTS.items() if k != "webhook.test"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                actor=actor(request),
            )
        except ApplicationError as exc:
            form.add_error("url" if exc.field == "url" else None, exc.message)
        else:
            messages.success(request, "Endpoint registered. Check its signatures with the secret below.")
            return redirect("dashboard-webhook", endpoint.pk)
    return render(
        request,
        "dashboard/webhooks/list.html",
        {"nav": "webhooks", "form": form, "endpoints": WebhookEndpoint.objects.all()},
        status=400 if form.errors else 200,
    )


def webhook_detail(request, endpoint_id: int):
    endpoint = _endpoint_or_404(endpoint_id)
    return render(
        request,
        "dashboard/webhooks/detail.html",
        {
            "nav": "webhooks",
            "endpoint": endpoint,
            "deliveries": endpoint.deliveries.all()[:50],
            "events": EVENTS,
        },
    )


@require_POST
def webhook_test(request, endpoint_id: int):
    endpoint = _endpoint_or_404(endpoint_id)
    try:
        webhook_send_test(endpoint=endpoint, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Test event queued: its delivery appears below within seconds.")
    return redirect("dashboard-webhook", endpoint.pk)


@require_POST
def webhook_delete(request, endpoint_id: int):
    endpoint = _endpoint_or_404(endpoint_id)
    try:
        webhook_endpoint_delete(endpoint=endpoint, actor=actor(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard-webhook", endpoint.pk)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("dashboard-webhooks")
