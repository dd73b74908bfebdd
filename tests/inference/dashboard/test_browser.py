"""End to end in a real Chromium: a business user uploads, trains, judges, ships and calls a model.

Runs against a real web server process and a real Celery worker on the test database. Screenshots
of the main pages are saved in test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import csv
import json
import re
import urllib.error
import urllib.request
from collections import defaultdict

import pytest

from tests.support import REPO, shared_dataset

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LABELS = ["card_arrival", "lost_or_stolen_card", "change_pin", "exchange_rate", "top_up_failed"]

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def banking_slice(tmp_path):
    """5 banking77 labels × 20 rows, with the label in a column named "category"."""
    source = shared_dataset("banking77/train.csv")
    rows: dict[str, list[str]] = defaultdict(list)
    with source.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["category"] in LABELS and len(rows[row["category"]]) < 20:
                rows[row["category"]].append(row["text"])
    path = tmp_path / "banking-slice.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category"])
        for label in LABELS:
            for text in rows[label]:
                writer.writerow([text, label])
    return path


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def api_post(base: str, path: str, key: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - a http:// URL of the test's own server
        f"{base}/api/v1/{path}",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def call_api(base: str, model: str, key: str) -> tuple[int, dict]:
    return api_post(base, f"models/{model}/predict", key, {"inputs": ["My new card still has not arrived"]})


def test_a_business_user_trains_judges_ships_and_calls_a_model(
    test_database, live_server_url, live_tenant, celery_worker_process, page, banking_slice
):
    api_base, port = live_server_url
    site = f"http://{live_tenant.slug}.localhost:{port}"
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Log in: every page sends a stranger to the login form first.
    page.goto(site + "/")
    assert "/accounts/login/" in page.url
    shot(page, "01-login")
    page.get_by_label("Email").fill(f"admin@{live_tenant.slug}.example")
    page.get_by_label("Password").fill("pass-live-7391")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/")
    assert page.get_by_text("Upload your labelled examples").is_visible()
    shot(page, "02-overview-empty")

    # Upload: the CSV's header is read in the browser and its columns offered for the label.
    page.get_by_role("link", name="Datasets").click()
    assert page.get_by_text("No datasets yet — upload a CSV to start").is_visible()
    page.get_by_role("link", name="Upload data").click()
    # Dropped on the upload zone, as a user drags it from their desktop (the zone's drop handler).
    page.evaluate(
        """([name, content]) => {
            const zone = document.querySelector("[data-dropzone]");
            const files = new DataTransfer();
            files.items.add(new File([content], name, {type: "text/csv"}));
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
            }
        }""",
        [banking_slice.name, banking_slice.read_text(encoding="utf-8")],
    )
    assert page.locator("[data-dropzone-file]").inner_text().startswith(banking_slice.name)
    label_select = page.locator('select[name="label_column"]')
    label_select.wait_for()
    assert label_select.input_value() == "category"
    assert page.locator('select[name="text_column"]').input_value() == "text"
    page.get_by_label("Dataset name").fill("banking")
    shot(page, "03-upload-column-mapping")
    page.get_by_role("button", name="Check and upload").click()
    page.wait_for_url(re.compile(r"/datasets/banking/v1/$"))
    assert page.get_by_text("Ready to train").is_visible()
    assert page.locator(".bar-row").count() == len(LABELS)
    shot(page, "04-dataset")

    # Train with fast settings, folded away under "Advanced settings".
    page.get_by_role("link", name="Train a model").first.click()
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Method").select_option("head")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"/training/jobs/\d+/$"))
    shot(page, "05-training-progress")
    # The bar updates in place (htmx polling) until the job is done.
    page.get_by_text("Your model is ready").wait_for(timeout=240_000)
    assert page.get_by_role("progressbar").first.get_attribute("aria-valuenow") == "100"
    shot(page, "06-training-done")

    # Judge: headline against the baseline, per-label F1, confusion heatmap.
    page.get_by_role("link", name="See the evaluation").click()
    page.wait_for_url(re.compile(r"/models/banking/v1/$"))
    assert page.locator(".verdict-number").is_visible()
    assert page.locator(".heatmap").is_visible()
    shot(page, "07-model-version")

    # Ship: the confirmation says what changes.
    page.get_by_role("link", name="Promote to production…").click()
    assert page.get_by_text("becomes the first production version").is_visible()
    shot(page, "08-promote-confirm")
    if page.locator("#gate-figures").count():
        # A quick head on a slice may not beat the baseline: the page says why before the click,
        # and promoting it anyway takes a stated reason.
        assert page.get_by_text("The quality check would refuse this promotion").is_visible()
        page.get_by_label("Why promote it anyway?").fill("a quick model to try the dashboard")
        page.get_by_role("button", name="Promote anyway").click()
    else:
        page.get_by_role("button", name="Promote v1").click()
    page.wait_for_url(re.compile(r"/models/banking/$"))
    assert page.get_by_text("is now in production").is_visible()
    shot(page, "09-model")

    # Try it in the playground.
    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Text to try").fill("I lost my card on the train yesterday")
    page.get_by_role("button", name="Predict").click()
    prediction = page.locator("[data-prediction]")
    prediction.wait_for()
    assert prediction.inner_text() in LABELS
    shot(page, "10-playground")

    # Overview now shows the production model.
    page.get_by_role("link", name="Overview").click()
    assert page.get_by_text("production v1").is_visible()
    shot(page, "11-overview")

    # Create an API key, shown once, and call the API with it.
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("e2e")
    page.get_by_role("button", name="Create key").click()
    raw_key = page.locator("[data-raw-key]").inner_text().strip()
    assert raw_key.startswith("scl_")
    assert f"localhost:{port}/api/v1/models/banking/predict" in page.locator("#curl-example").inner_text()
    shot(page, "12-api-key-created")
    status, body = call_api(api_base, "banking", raw_key)
    assert status == 200, body
    assert body["predictions"][0]["label"] in LABELS
    # The caller reports a wrong answer; it lands in the feedback inbox.
    status, body = api_post(
        api_base, "feedback", raw_key,
        {"model": "banking", "input": "Where is the card you posted to me?", "predicted": {"label": "change_pin"},
         "correct_label": "card_arrival"},
    )  # fmt: skip
    assert status == 201, body

    # Revoke it, and the same call is refused.
    page.goto(site + "/api-keys/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke e2e").click()
    page.wait_for_load_state()
    assert page.get_by_text("is revoked").is_visible()
    shot(page, "13-api-keys")
    status, body = call_api(api_base, "banking", raw_key)
    assert status == 401, body

    page.get_by_role("link", name="Usage").click()
    shot(page, "14-usage")
    page.get_by_role("link", name="Feedback").click()
    assert page.get_by_text("Where is the card you posted to me?").is_visible()
    shot(page, "15-feedback")
    # Add the correction to a new version of the data (retraining is the default; skipped here for time).
    page.get_by_label("Retrain the model on the new version").uncheck()
    page.get_by_role("button", name="Add to a new dataset version and retrain").click()
    page.wait_for_url(re.compile(r"/datasets/banking/v2/$"))
    assert page.get_by_text("corrections from the API").is_visible()
    page.get_by_role("link", name="Training").click()
    shot(page, "16-training")

    # The narrow layout (phones): navigation moves to the top.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site + "/models/banking/v1/")
    shot(page, "17-model-version-mobile")


def _banking77_metrics(version, labels: list[str]) -> dict:
    """An evaluation of 77 labels with realistic mistakes (the worker's shape), without training 77 labels."""
    import random

    from tests import factories

    rng = random.Random(7)
    m = factories.evaluation_metrics(0.87, labels)
    n = len(labels)
    matrix = [[0] * n for _ in range(n)]
    for i in range(n):
        matrix[i][i] = rng.randint(5, 10)
    for _ in range(60):
        i = rng.randrange(n)
        j = min(n - 1, max(0, i + rng.choice([-2, -1, 1, 2])))  # neighbours in the list are related intents
        matrix[i][j] += rng.randint(1, 3)
    for i, label in enumerate(labels):
        f1 = matrix[i][i] / (
            matrix[i][i]
            + (sum(matrix[i]) - matrix[i][i]) / 2
            + sum(matrix[k][i] for k in range(n) if k != i) / 2
        )
        m["per_label"][label] = {"precision": f1, "recall": f1, "f1": f1, "support": sum(matrix[i])}
    pairs = sorted(
        ((matrix[i][j], labels[i], labels[j]) for i in range(n) for j in range(n) if i != j), reverse=True
    )
    m["confusion_matrix"] = {"labels": labels, "matrix": matrix}
    m["most_confused"] = [{"true": t, "predicted": p, "count": c} for c, t, p in pairs[:10]]
    m["baseline"]["headline"]["value"], m["lift"] = 0.79, 0.87 - 0.79
    return m


def test_evaluation_pages_explain_many_labels_and_extraction(
    test_database, live_server_url, live_tenant, page
):
    """The version page for 77 labels (focused heatmap) and for extraction (highlighted spans)."""
    from django_tenants.utils import tenant_context

    from inference.models import Model, ModelVersion
    from inference.selectors.datasets import dataset_version_examples
    from inference.services.datasets import dataset_upload

    source = shared_dataset("wnut17/wnut17train.conll")
    categories = shared_dataset("banking77/categories.json")
    _, port = live_server_url
    site = f"http://{live_tenant.slug}.localhost:{port}"
    labels = json.loads(categories.read_text())
    sentences = source.read_text(encoding="utf-8").split("\n\n")[:400]
    with tenant_context(live_tenant):
        from tests import factories

        intents = dataset_upload(
            name="intents", file=factories.csv_bytes(), filename="intents.csv", task="classification",
            label_column="category",
        )  # fmt: skip
        model = Model.objects.create(name="intents-77", task="classification")
        ModelVersion.objects.create(
            model=model, number=1, artifact_path="-", artifact_checksum="0" * 64, labels=labels,
            metrics=_banking77_metrics(intents, labels), headline_metric="accuracy", headline_value=0.87,
            baseline_value=0.79, dataset_version=intents, dataset_hash="-", base_model_id="minilm-l6", method="full",
        )  # fmt: skip
        ner = dataset_upload(
            name="mentions",
            file="\n\n".join(sentences).encode(),
            filename="wnut.conll",
            task="extraction",
            format="conll",
        )
        test_rows = list(dataset_version_examples(version=ner, split="test"))
        predictions = []
        for k, row in enumerate(test_rows):
            gold = list(row.entities or [])
            # Miss the last entity of every other text; invent one on every fifth.
            got = gold[:-1] if gold and k % 2 else gold
            if k % 5 == 0 and " " in row.text:
                got = [*got, {"start": 0, "end": row.text.index(" "), "label": "person"}]
            predictions.append({"entities": got})
        types = sorted({e["label"] for row in test_rows for e in row.entities or []}) or ["location"]
        per_type = {
            t: {"precision": 0.6 + 0.05 * i, "recall": 0.5 + 0.04 * i, "f1": 0.55 + 0.05 * i, "support": 5}
            for i, t in enumerate(types)
        }
        ner_model = Model.objects.create(name="mentions", task="extraction")
        ModelVersion.objects.create(
            model=ner_model, number=1, artifact_path="-", artifact_checksum="0" * 64, labels=types,
            metrics={"task": "extraction", "test_size": len(test_rows), "precision": 0.62, "recall": 0.51, "f1": 0.56,
                     "per_type": per_type, "headline": {"name": "f1", "value": 0.56},
                     "baseline": {"name": "most_frequent_tag_per_word", "headline": {"name": "f1", "value": 0.31}},
                     "lift": 0.25, "predictions": predictions, "missed": [], "spurious": []},
            headline_metric="f1", headline_value=0.56, baseline_value=0.31, dataset_version=ner, dataset_hash="-",
            base_model_id="minilm-l6", method="full",
        )  # fmt: skip

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(f"admin@{live_tenant.slug}.example")
    page.get_by_label("Password").fill("pass-live-7391")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/")

    page.goto(site + "/models/intents-77/v1/")
    assert page.locator(".heatmap .col-label").count() == 12
    assert page.get_by_text("most involved in mistakes, of 77").is_visible()
    assert page.locator(".bar-row.is-flagged").count() > 0
    shot(page, "20-model-version-77-labels")

    page.goto(site + "/models/mentions/v1/")
    assert page.locator(".ent-compare").count() > 0
    assert page.locator("mark.ent").count() > 0
    shot(page, "21-model-version-extraction")

    page.goto(site + "/datasets/mentions/")
    shot(page, "22-dataset-extraction")
