"""Webhooks: signed events sent to the endpoints a workspace's admins register, retried with backoff.

``webhook_emit(event, data)`` records one delivery per endpoint that wants the event and sends each
to a worker once the transaction commits; ``webhook_deliver`` (the worker) POSTs the JSON body with
``X-Scalpel-Signature: sha256=<hex HMAC-SHA256 of the body with the endpoint's secret>`` and, on
anything but a 2xx answer, schedules the next attempt after an exponentially growing delay.

An endpoint is refused when its host resolves to a loopback, private, link-local or otherwise
non-public address, unless ``SCALPEL_WEBHOOK_ALLOW_PRIVATE`` is on (the default outside production),
so that a workspace cannot make the platform call its own internal network. The check runs when the
endpoint is saved and again before every attempt (an address can change), and redirects are never
followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from core.exceptions import ApplicationError
from inference.models import WebhookDelivery, WebhookEndpoint
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

from .messaging import send_after_commit

logger = logging.getLogger("scalpel.webhooks")

WEBHOOK_DELIVER_TASK = "inference.tasks.webhook_deliver"
EVENTS = {
    "job.succeeded": "a training job finished and registered a version",
    "job.failed": "a training job failed",
    "version.promoted": "a version was promoted to an alias",
    "version.rolled_back": "an alias was rolled back to an earlier version",
    "batch.succeeded": "a batch prediction finished; its answers can be downloaded",
    "batch.failed": "a batch prediction failed",
    "webhook.test": "a test event sent from the dashboard",
}
# Seconds before attempt 2, 3, ...: then the delivery is marked failed.
RETRY_DELAYS = (30, 120, 600, 1800, 7200)
TIMEOUT_SECONDS = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer like any other non-2xx: not followed


_opener = urllib.request.build_opener(_NoRedirect)


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Scalpel-Signature`` for ``body``: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def url_refusal(url: str) -> str:
    """Why this URL may not receive webhooks; empty when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Use an http:// or https:// URL with a host name."
    if settings.SCALPEL_WEBHOOK_ALLOW_PRIVATE:
        return ""
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return f"The host '{parts.hostname}' cannot be resolved."
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return (
                f"'{parts.hostname}' resolves to {address}, a loopback, private or reserved address: "
                "webhooks go to public addresses only (an operator can allow private ones)."
            )
    return ""


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ApplicationError(
            f"Unknown event(s): {', '.join(unknown)}. Known: {', '.join(EVENTS)}.",
            code="validation_failed",
            field="events",
        )
    return sorted(set(events))


def webhook_endpoint_create(
    *, url: str, events: list[str] | None = None, description: str = "", actor: Actor | str = ""
) -> WebhookEndpoint:
    actor = as_actor(actor)
    permission_check(actor=actor, action="webhook.manage")
    refusal = url_refusal(url)
    if refusal:
        raise ApplicationError(refusal, code="validation_failed", field="url")
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        events=_check_events(events or []),
        description=description[:200],
        secret="whsec_" + secrets.token_urlsafe(32),
        created_by=actor.name[:200],
    )
    audit_record(
        action="webhook.created", actor=actor, obj=endpoint, details={"url": url, "events": endpoint.events}
    )
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor | str = "") -> None:
    actor = as_actor(actor)
    permission_check(actor=actor, action="webhook.manage")
    audit_record(action="webhook.deleted", actor=actor, obj=endpoint, details={"url": endpoint.url})
    endpoint.delete()


def webhook_emit(event: str, data: dict, *, endpoints=None) -> list[WebhookDelivery]:
    """Record a delivery of ``event`` for every active endpoint that wants it; sent after commit."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    candidates = endpoints or WebhookEndpoint.objects.filter(is_active=True)
    # A test event goes to the endpoint it was sent to, whatever events that endpoint chose.
    targets = [e for e in candidates if e.wants(event) or (event == "webhook.test" and e.is_active)]
    if not targets:
        return []
    tenant = getattr(connection, "tenant", None)
    payload = {
        "event": event,
        "workspace": getattr(tenant, "slug", connection.schema_name),
        "created_at": timezone.now().isoformat(),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }
    deliveries = [WebhookDelivery.objects.create(endpoint=e, event=event, payload=payload) for e in targets]
    send_after_commit(WEBHOOK_DELIVER_TASK, [[d.pk] for d in deliveries], what="webhook delivery")
    return deliveries


def webhook_send_test(*, endpoint: WebhookEndpoint, actor: Actor | str = "") -> WebhookDelivery:
    permission_check(actor=as_actor(actor), action="webhook.manage")
    return webhook_emit("webhook.test", {"message": "A test event from Scalpel."}, endpoints=[endpoint])[0]


def webhook_deliver(delivery_id: int) -> float | None:
    """One attempt; returns the seconds until the next one, or None when the delivery is settled."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    delivery.attempts += 1
    code, error = None, url_refusal(endpoint.url)
    if not error:
        request = urllib.request.Request(  # noqa: S310 - the scheme was checked: http or https only
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Scalpel-Webhooks/1",
                "X-Scalpel-Event": delivery.event,
                "X-Scalpel-Delivery": str(delivery.pk),
                "X-Scalpel-Signature": signature(endpoint.secret, body),
            },
        )
        try:
            with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, "reason", exc))[:500] or type(exc).__name__
    delivery.last_status_code, delivery.last_error = code, error[:500]
    retry_in = None
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            WebhookDelivery.Status.SUCCEEDED, timezone.now(), None)  # fmt: skip
        delivery.last_error = ""
    elif delivery.attempts > len(RETRY_DELAYS):
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    else:
        retry_in = RETRY_DELAYS[delivery.attempts - 1]
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
    delivery.save()
    return retry_in


def webhook_retry_later(delivery_id: int, seconds: float) -> None:
    """Schedule the next attempt (the worker calls this after a failed one)."""
    current_app.send_task(WEBHOOK_DELIVER_TASK, args=[delivery_id], countdown=seconds)
