"""Webhooks: signed bodies, retries with backoff, no private addresses in production, every interface."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading

import pytest
from django.db import connection
from django.test import TestCase

from core.exceptions import ApplicationError
from inference.models import Dataset, DatasetVersion, Model, ModelVersion, WebhookDelivery, WebhookEndpoint
from inference.services import registry
from inference.services.webhooks import (
    RETRY_DELAYS,
    webhook_deliver,
    webhook_emit,
    webhook_endpoint_create,
    webhook_send_test,
)
from tests.support import wait_for


class Receiver:
    """A real HTTP server on loopback that records each request and answers with ``codes`` in turn."""

    def __init__(self, codes=(200,)):
        self.codes, self.requests = list(codes), []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if len(receiver.codes) > 1 else receiver.codes[0]
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(codes=(200,)):
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def alpha(tenant_a):
    connection.set_tenant(tenant_a)
    return tenant_a


def emit_and_deliver(event, data, endpoint) -> WebhookDelivery:
    with TestCase.captureOnCommitCallbacks(execute=False):
        (delivery,) = webhook_emit(event, data, endpoints=[endpoint])
    webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_an_event_arrives_signed_with_the_endpoints_secret(alpha, receiver):
    server = receiver()
    endpoint = webhook_endpoint_create(url=server.url, events=["job.succeeded"])
    delivery = emit_and_deliver("job.succeeded", {"job": 7, "model": "intents", "version": 2}, endpoint)
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.last_status_code == 200
    ((headers, body),) = server.requests
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Scalpel-Signature"] == expected
    assert headers["X-Scalpel-Event"] == "job.succeeded" and headers["X-Scalpel-Delivery"] == str(delivery.pk)
    payload = json.loads(body)
    assert payload["event"] == "job.succeeded" and payload["workspace"] == "alpha"
    assert payload["data"] == {"job": 7, "model": "intents", "version": 2}


def test_a_failed_attempt_is_retried_later_with_growing_delays_then_given_up(alpha, receiver):
    server = receiver(codes=(500, 200))
    endpoint = webhook_endpoint_create(url=server.url)
    with TestCase.captureOnCommitCallbacks(execute=False):
        (delivery,) = webhook_emit("webhook.test", {}, endpoints=[endpoint])
    assert webhook_deliver(delivery.pk) == RETRY_DELAYS[0]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("pending", 500, 1)
    assert delivery.next_attempt_at is not None
    assert webhook_deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2

    always_down = receiver(codes=(503,))
    endpoint = webhook_endpoint_create(url=always_down.url)
    with TestCase.captureOnCommitCallbacks(execute=False):
        (delivery,) = webhook_emit("webhook.test", {}, endpoints=[endpoint])
    delays = [webhook_deliver(delivery.pk) for _ in range(len(RETRY_DELAYS) + 1)]
    assert delays == [*RETRY_DELAYS, None] and sorted(RETRY_DELAYS) == list(RETRY_DELAYS)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == len(RETRY_DELAYS) + 1


def test_events_go_only_to_endpoints_that_want_them(alpha, receiver):
    server = receiver()
    webhook_endpoint_create(url=server.url, events=["batch.succeeded"])
    everything = webhook_endpoint_create(url=server.url + "/all")
    with TestCase.captureOnCommitCallbacks(execute=False):
        sent = webhook_emit("job.failed", {"job": 1})
    assert [d.endpoint_id for d in sent] == [everything.pk]
    with pytest.raises(ApplicationError, match="Unknown event"):
        webhook_endpoint_create(url=server.url, events=["job.exploded"])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8000/x", "loopback, private or reserved"),
        ("http://10.1.2.3/x", "loopback, private or reserved"),
        ("http://169.254.169.254/latest/meta-data", "loopback, private or reserved"),
        ("http://localhost/x", "loopback, private or reserved"),
        ("ftp://example.com/x", "http:// or https://"),
    ],
)
def test_production_refuses_endpoints_on_private_addresses(alpha, settings, url, says):
    settings.SCALPEL_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ApplicationError, match=says) as refused:
        webhook_endpoint_create(url=url)
    assert refused.value.field == "url" and not WebhookEndpoint.objects.exists()


def test_a_delivery_to_an_address_that_became_private_is_not_sent(alpha, settings, receiver):
    server = receiver()
    endpoint = webhook_endpoint_create(url=server.url)  # allowed while private addresses are
    settings.SCALPEL_WEBHOOK_ALLOW_PRIVATE = False
    delivery = emit_and_deliver("webhook.test", {}, endpoint)
    assert server.requests == [] and delivery.status == "pending" and "private" in delivery.last_error


def test_a_promotion_is_an_event(alpha, receiver):
    webhook_endpoint_create(url=receiver().url, events=["version.promoted"])
    model = Model.objects.create(name="router", task="classification")
    dataset = Dataset.objects.create(name="d", task="classification")
    dv = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="h")
    version = ModelVersion.objects.create(
        model=model, number=1, artifact_path="x", artifact_checksum="c", metrics={}, headline_metric="accuracy",
        headline_value=0.9, dataset_version=dv, dataset_hash="h", base_model_id="minilm-l6", method="head",
    )  # fmt: skip
    with TestCase.captureOnCommitCallbacks(execute=False):
        registry.model_version_promote(version=version, alias="staging")
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == "version.promoted"
    assert delivery.payload["data"] | {"actor": ""} == {
        "model": "router", "alias": "staging", "from_version": None, "to_version": 1, "actor": ""}  # fmt: skip


def test_admins_register_an_endpoint_in_the_dashboard_and_members_cannot(alpha, signed_in, receiver):
    url = receiver().url
    member = signed_in("member")
    assert "Webhooks" not in member.get("/").content.decode()
    member.post("/webhooks/", {"url": url})
    assert not WebhookEndpoint.objects.exists()
    admin = signed_in("admin")
    made = admin.post("/webhooks/", {"url": url, "events": ["job.succeeded", "job.failed"]})
    endpoint = WebhookEndpoint.objects.get()
    assert made.status_code == 302 and endpoint.events == ["job.failed", "job.succeeded"]
    page = admin.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret in page and "Send test event" in page
    with TestCase.captureOnCommitCallbacks(execute=False):
        admin.post(f"/webhooks/{endpoint.pk}/test/")
    assert WebhookDelivery.objects.get().event == "webhook.test"
    assert "webhook.test" in admin.get(f"/webhooks/{endpoint.pk}/").content.decode()


@pytest.mark.slow
def test_a_worker_delivers_the_test_event(live_tenant, celery_worker_process, receiver):
    server = receiver()
    connection.set_tenant(live_tenant)
    endpoint = webhook_endpoint_create(url=server.url)
    delivery = webhook_send_test(endpoint=endpoint)
    wait_for(lambda: server.requests, timeout=60, message="the delivery", process=celery_worker_process)
    connection.set_tenant(live_tenant)
    wait_for(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "succeeded",
        timeout=20,
        message="its record",
    )
    headers, body = server.requests[0]
    assert (
        headers["X-Scalpel-Signature"]
        == "sha256=" + hmac.new(endpoint.secret.encode(), body, hashlib.sha256).hexdigest()
    )
