"""After a model is live, in a real Chromium: correct answers, review the queue, predict a file,
see a drift alert, register a webhook and see its delivery, delete a dataset, the operator overview.

A real web server process and a real Celery worker run on the test database; the model is a fast
``head`` model trained for real on a banking77 slice.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import http.server
import io
import threading
from collections import defaultdict

import pytest
from django.db import connection

from tests.support import shared_dataset, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]
LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed"]


def banking_csv() -> bytes:
    rows: dict[str, list[str]] = defaultdict(list)
    with shared_dataset("banking77/train.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["category"] in LABELS and len(rows[row["category"]]) < 20:
                rows[row["category"]].append(row["text"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows([t, label] for label in LABELS for t in rows[label])
    return out.getvalue().encode()


@pytest.fixture
def live_model(live_tenant, celery_worker_process):
    """'intents' v1 in production, trained by the worker (head method)."""
    from inference.models import TrainingJob
    from inference.services.datasets import dataset_upload
    from inference.services.registry import model_version_promote
    from inference.services.training import training_job_start

    connection.set_tenant(live_tenant)
    dataset_upload(
        name="tickets", file=io.BytesIO(banking_csv()), filename="tickets.csv", task="classification"
    )
    dataset_upload(
        name="scratch", file=io.BytesIO(banking_csv()), filename="scratch.csv", task="classification"
    )
    job = training_job_start(dataset="tickets", model_name="intents", method="head")

    def done():
        connection.set_tenant(live_tenant)
        return TrainingJob.objects.get(pk=job.pk).status in ("succeeded", "failed")

    wait_for(done, timeout=300, interval=1, message="training", process=celery_worker_process)
    job = TrainingJob.objects.select_related("model_version").get(pk=job.pk)
    assert job.status == "succeeded", job.error
    model_version_promote(version=job.model_version, override_reason="browser test: a quick head model")
    connection.set_schema_to_public()
    return live_tenant


class Receiver:
    def __init__(self):
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.requests.append(
                    (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def sign_in(page, site: str, email: str, password: str) -> None:
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_after_a_model_is_live_a_business_user_keeps_it_good(
    test_database, live_server_url, live_model, page, tmp_path
):
    from inference.models import BatchPrediction, Dataset, Feedback, PredictionLog, WebhookDelivery
    from inference.services.monitoring import stats_record

    _, port = live_server_url
    site = f"http://{live_model.slug}.localhost:{port}"
    page.set_default_timeout(30_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site, f"admin@{live_model.slug}.example", "pass-live-7391")
    page.wait_for_url(site + "/")

    # Turn on prediction logging for the review queue, then try the model in the playground.
    page.goto(site + "/review/?model=intents")
    page.get_by_label("Log predictions").check()
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("intents logs its predictions").is_visible()
    for text in ("my card has not arrived yet", "the top up did not go through"):
        page.goto(site + "/playground/")
        page.get_by_label("Text to try").fill(text)
        page.get_by_role("button", name="Predict").click()
        page.locator("[data-prediction]").wait_for()
    # Correct the answer: pick the right label under "Correct this".
    page.get_by_text("Correct this").click()
    page.get_by_label("Right label").select_option("lost_or_stolen_card")
    page.get_by_role("button", name="Save correction").click()
    assert page.get_by_text("Correction saved").is_visible()

    # The review queue: a key press fixes the first item.
    page.goto(site + "/review/?model=intents")
    first = page.locator(".review-text").inner_text()
    with page.expect_navigation():
        page.keyboard.press("2")  # the second of the model's labels, in the order the page lists them
    connection.set_tenant(live_model)
    assert Feedback.objects.filter(source="review", input=first, correct_label=sorted(LABELS)[1]).exists()
    assert PredictionLog.objects.filter(reviewed_at__isnull=False).count() == 1
    assert Feedback.objects.filter(source="playground", correct_label="lost_or_stolen_card").exists()

    # Predict a whole file, then download the answers.
    source = tmp_path / "texts.csv"
    source.write_text(
        "id,message\n1,where is my new card\n2,what exchange rate do you use\n", encoding="utf-8"
    )
    page.goto(site + "/models/intents/")
    page.get_by_role("link", name="Predict a file").click()
    page.get_by_label("File of texts").set_input_files(str(source))
    page.get_by_label("Column with the texts").fill("message")
    page.get_by_role("button", name="Start the batch").click()
    page.get_by_role("link", name="CSV").wait_for(timeout=120_000)  # the page refreshes itself
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["row", "text", "label", "score"] and [r[1] for r in rows[1:]] == [
        "where is my new card", "what exchange rate do you use"]  # fmt: skip
    assert all(r[2] in LABELS for r in rows[1:]) and BatchPrediction.objects.get().status == "succeeded"

    # A drift alert: this week's answers are all one label, unlike the evaluation's mix.
    stats_record(
        model="intents", version=1, latency_ms=4, predictions=[{"label": "card_arrival", "score": 0.5}] * 80
    )
    connection.set_schema_to_public()
    page.goto(site + "/")
    assert page.get_by_text("label mix moved").is_visible()
    page.get_by_role("link", name="intents").first.click()
    assert page.get_by_role("heading", name="Monitoring").is_visible()

    # A webhook: register it, send the test event, see the delivery.
    receiver = Receiver()
    page.goto(site + "/webhooks/")
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator(".secret").inner_text().strip()
    page.get_by_role("button", name="Send test event").click()
    wait_for(lambda: receiver.requests, timeout=60, message="the webhook delivery")
    headers, body = receiver.requests[0]
    assert (
        headers["X-Scalpel-Signature"]
        == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    connection.set_tenant(live_model)
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=20, message="its record"
    )
    page.reload()
    assert page.get_by_text("delivered").is_visible()

    # Delete a dataset nobody's model needs: the confirmation says what goes.
    page.goto(site + "/datasets/scratch/")
    page.get_by_role("link", name="Delete the whole dataset…").click()
    assert page.get_by_text("80 examples").is_visible()
    page.get_by_role("button", name="Delete scratch").click()
    page.wait_for_url(site + "/datasets/")
    assert not Dataset.objects.filter(name="scratch").exists()
    # The data a live model was trained on cannot go.
    page.goto(site + "/datasets/tickets/delete/")
    assert page.get_by_text("It cannot be deleted now").is_visible()
    connection.set_schema_to_public()


def test_the_operator_overview_sums_up_the_platform(test_database, live_server_url, live_db, page):
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context("public"):
        if not get_user_model().objects.filter(username="ops-browser").exists():
            get_user_model().objects.create_superuser("ops-browser", "ops@example.com", "pw-ops-88213")
    _, port = live_server_url
    page.goto(f"http://localhost:{port}/admin/login/")
    page.get_by_label("Username").fill("ops-browser")
    page.get_by_label("Password").fill("pw-ops-88213")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("Platform now").is_visible()
    assert page.get_by_text("Workers alive").is_visible()
    page.get_by_role("link", name="Usage per tenant per month").click()
    assert page.get_by_role("link", name="Download CSV").is_visible()
