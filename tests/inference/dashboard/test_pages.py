"""Dashboard pages through Django's test client: login, rendering, empty states, tenant isolation, assets."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from inference.models import TrainingJob
from tenants.models import ApiKey, UsageDay
from tenants.services import api_key_create
from tests import factories

from .conftest import ALPHA, BETA, login

STATIC_PAGES = [
    "/", "/datasets/", "/datasets/upload/", "/training/", "/models/", "/playground/", "/api-keys/", "/usage/",
    "/feedback/",
]  # fmt: skip


@pytest.fixture
def populated(tenant_a):
    """One dataset, two model versions (v1 in production), a running job, a key, usage and feedback."""
    version = factories.make_dataset(tenant_a)
    v1 = factories.make_model_version(tenant_a, version, accuracy=0.912)
    v2 = factories.make_model_version(tenant_a, version, accuracy=0.934, weak="lost_card")
    with tenant_context(tenant_a):
        from inference.services.registry import model_version_promote

        model_version_promote(version=v1, actor="test")
    job = factories.make_job(
        tenant_a, version, progress={"phase": "training", "epoch": 1, "epochs": 3, "step": 4, "total_steps": 12,
                                     "loss": 0.8123, "eta_seconds": 95}
    )  # fmt: skip
    key, raw = api_key_create(tenant=tenant_a, name="helpdesk")
    UsageDay.objects.create(
        tenant=tenant_a, api_key=key, key_prefix=key.prefix, day=timezone.now().date(), requests=7, texts=12
    )
    factories.make_feedback(tenant_a)
    return {"version": version, "v1": v1, "v2": v2, "job": job, "key": key}


def detail_pages(data) -> list[str]:
    return [
        "/datasets/support/",
        f"/datasets/support/v{data['version'].number}/",
        f"/datasets/support/v{data['version'].number}/examples/?q=card&label=lost_card",
        "/models/support/",
        "/models/support/v1/",
        "/models/support/v2/",
        "/models/support/compare/?a=1&b=2",
        "/models/support/v2/promote/",
        f"/training/jobs/{data['job'].pk}/",
        f"/training/jobs/{data['job'].pk}/progress/",
    ]


@pytest.mark.parametrize("url", STATIC_PAGES)
def test_pages_redirect_to_login_when_logged_out(anonymous_client, url):
    response = anonymous_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_login_page_renders_on_the_tenant_host(anonymous_client):
    response = anonymous_client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in to Alpha" in response.content


def test_wrong_password_is_explained_next_to_the_form(anonymous_client):
    response = anonymous_client.post(
        "/accounts/login/", {"username": "admin@alpha.example", "password": "nope"}
    )
    assert response.status_code == 200
    assert b"do not match" in response.content


@pytest.mark.parametrize("url", STATIC_PAGES)
def test_every_page_renders_empty_for_a_new_workspace(alpha_client, url):
    response = alpha_client.get(url)
    assert response.status_code == 200, url


def test_empty_states_say_what_to_do(alpha_client):
    assert "No datasets yet — upload a CSV to start" in alpha_client.get("/datasets/").content.decode()
    overview = alpha_client.get("/").content.decode()
    assert "Upload your labelled examples" in overview
    assert "No models yet" in overview


def test_every_page_renders_with_data(alpha_client, populated):
    for url in STATIC_PAGES + detail_pages(populated):
        response = alpha_client.get(url)
        assert response.status_code == 200, url


def test_detail_pages_redirect_to_login_when_logged_out(anonymous_client, populated):
    for url in detail_pages(populated):
        response = anonymous_client.get(url)
        assert response.status_code == 302, url


EXTERNAL = re.compile(
    r"<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE
)


def test_pages_reference_no_external_assets(alpha_client, anonymous_client, populated):
    pages = [anonymous_client.get("/accounts/login/")]
    pages += [alpha_client.get(url) for url in STATIC_PAGES + detail_pages(populated)]
    for response in pages:
        html = response.content.decode()
        assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    # The assets themselves are served by the platform.
    assert b"/static/dashboard/dashboard.css" in pages[1].content
    assert alpha_client.get("/static/dashboard/dashboard.css").status_code == 200


# ---- tenant isolation -------------------------------------------------------------------------


@pytest.fixture
def beta_objects(tenant_b):
    version = factories.make_dataset(tenant_b, name="beta-secret")
    mv = factories.make_model_version(tenant_b, version, name="beta-model")
    job = factories.make_job(tenant_b, version, name="beta-model")
    key, _ = api_key_create(tenant=tenant_b, name="beta key")
    return {"version": version, "model_version": mv, "job": job, "key": key}


def test_a_user_gets_404_for_another_tenants_objects(alpha_client, tenant_a, beta_objects):
    job_id = beta_objects["job"].pk
    with tenant_context(tenant_a):
        assert not TrainingJob.objects.filter(pk=job_id).exists()  # the id is free in alpha's schema
    for url in [
        "/datasets/beta-secret/",
        "/datasets/beta-secret/v1/",
        "/datasets/beta-secret/v1/examples/",
        "/datasets/beta-secret/v1/export/csv/",
        "/models/beta-model/",
        "/models/beta-model/v1/",
        "/models/beta-model/v1/promote/",
        "/models/beta-model/compare/",
        "/models/beta-model/rollback/",
        f"/training/jobs/{job_id}/",
        f"/training/jobs/{job_id}/progress/",
    ]:
        assert alpha_client.get(url).status_code == 404, url
    assert alpha_client.post(f"/training/jobs/{job_id}/cancel/").status_code == 404
    assert alpha_client.post(f"/api-keys/{beta_objects['key'].pk}/revoke/").status_code == 404
    beta_objects["key"].refresh_from_db()
    assert beta_objects["key"].revoked_at is None
    keys_page = alpha_client.get("/api-keys/").content.decode()
    assert beta_objects["key"].prefix not in keys_page


def test_a_session_on_one_tenant_does_not_open_another(alpha_client, tenant_b):
    response = alpha_client.get("/", HTTP_HOST=BETA)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # Alpha's credentials are unknown on beta's host: users live in each tenant's schema.
    refused = alpha_client.post(
        "/accounts/login/", {"username": "admin@alpha.example", "password": "pass-alpha-7391"}, HTTP_HOST=BETA
    )
    assert refused.status_code == 200


# ---- datasets ---------------------------------------------------------------------------------


def test_upload_maps_the_label_column_and_shows_the_new_version(alpha_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("tickets.csv", factories.csv_bytes(), content_type="text/csv")
    response = alpha_client.post(
        "/datasets/upload/",
        {"file": upload, "name": "tickets", "task": "classification", "text_column": "text", "label_column": "category", "format": "auto"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/datasets/tickets/v1/"
    page = alpha_client.get(response["Location"]).content.decode()
    assert "30 examples" in page or "30 <span" in page
    assert "card_arrival" in page and "change_pin" in page  # the label distribution
    assert "Ready to train" in page


def test_upload_error_report_is_shown_next_to_the_form(alpha_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = b"text,category\nWhere is my card?,card_arrival\n,change_pin\nI lost my card,\n"
    response = alpha_client.post(
        "/datasets/upload/",
        {"file": SimpleUploadedFile("bad.csv", bad), "name": "bad", "task": "classification",
         "text_column": "text", "label_column": "category", "format": "auto"},
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="upload-report"' in html
    assert "Nothing was saved" in html
    assert "How to fix" in html
    assert "Line" in html
    assert 'name="file"' in html  # the form is still there, beside the report


def test_upload_with_a_wrong_column_names_the_columns_the_file_has(alpha_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = alpha_client.post(
        "/datasets/upload/",
        {"file": SimpleUploadedFile("t.csv", factories.csv_bytes()), "name": "t", "task": "classification",
         "text_column": "text", "label_column": "intent", "format": "auto"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 400
    assert "A column is missing" in html and "category" in html


def test_example_browser_filters_by_label_and_search(alpha_client, populated):
    html = alpha_client.get("/datasets/support/v1/examples/?label=change_pin&q=reset").content.decode()
    assert "Can I reset my PIN?" in html
    assert "Where is my new card?" not in html


# ---- training ---------------------------------------------------------------------------------


def test_training_starts_in_one_click_with_defaults(alpha_client, tenant_a, populated):
    response = alpha_client.post(
        "/training/start/", {"dataset": "support", "method": "auto", "base_model": "minilm-l6"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        job = TrainingJob.objects.order_by("-pk").first()
    assert response["Location"] == f"/training/jobs/{job.pk}/"
    assert job.model_name == "support" and job.hyperparameters == {} and job.status == "queued"


def test_advanced_settings_reach_the_job(alpha_client, tenant_a, populated):
    alpha_client.post(
        "/training/start/",
        {"dataset": "support", "model_name": "fast", "method": "head", "epochs": "2", "learning_rate": "0.001",
         "batch_size": "8", "max_length": "64", "base_model": "minilm-l6"},
    )  # fmt: skip
    with tenant_context(tenant_a):
        job = TrainingJob.objects.get(model_name="fast")
    assert job.method == "head"
    assert job.hyperparameters == {"epochs": 2, "learning_rate": 0.001, "batch_size": 8, "max_length": 64}


def test_training_refusal_is_shown_on_the_form(alpha_client, populated):
    response = alpha_client.post(
        "/training/start/",
        {
            "dataset": "support",
            "model_name": "support",
            "method": "auto",
            "base_model": "minilm-l6",
            "epochs": "0",
        },
    )
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1" in response.content.decode()


def test_progress_partial_polls_while_running_and_stops_when_finished(alpha_client, tenant_a, populated):
    job = populated["job"]
    running = alpha_client.get(f"/training/jobs/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert "Learning from your examples" in running and "0.812" in running and "about 2 min" in running
    with tenant_context(tenant_a):
        TrainingJob.objects.filter(pk=job.pk).update(
            status="succeeded", progress={"phase": "done"}, model_version=populated["v2"]
        )
    done = alpha_client.get(f"/training/jobs/{job.pk}/progress/").content.decode()
    assert "hx-trigger" not in done
    assert "Your model is ready" in done and "/models/support/v2/" in done


def test_cancel_asks_the_worker_to_stop(alpha_client, tenant_a, populated):
    job = populated["job"]
    response = alpha_client.post(f"/training/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    with tenant_context(tenant_a):
        job.refresh_from_db()
    assert job.cancel_requested


# ---- models -----------------------------------------------------------------------------------


def test_version_page_calls_out_weak_labels_and_mistakes(alpha_client, populated):
    html = alpha_client.get("/models/support/v2/").content.decode()
    assert "lost_card" in html and "1 label needs more examples" in html
    assert "is-flagged" in html  # the weak bar is highlighted
    assert 'class="heatmap"' in html
    assert "Where is my new card?" in html  # a misclassified example


def test_heatmap_of_many_labels_shows_the_most_confused(alpha_client, tenant_a, populated):
    labels = [f"label_{i:02d}" for i in range(77)]
    m = factories.evaluation_metrics(0.8, labels)
    m["confusion_matrix"]["matrix"][5][9] = 7
    with tenant_context(tenant_a):
        populated["v2"].metrics = m
        populated["v2"].save()
    html = alpha_client.get("/models/support/v2/").content.decode()
    assert "most involved in mistakes, of 77" in html
    assert html.count('class="col-label"') == 12
    assert 'title="label_05 → label_09: 7"' in html


def test_promotion_confirmation_shows_what_changes(alpha_client, populated):
    html = alpha_client.get("/models/support/v2/promote/").content.decode()
    assert "Production moves from <strong>v1</strong> (accuracy 0.912)" in html
    assert "to <strong>v2</strong> (0.934)" in html
    response = alpha_client.post("/models/support/v2/promote/", {"note": "better"})
    assert response.status_code == 302
    assert "production" in alpha_client.get("/models/support/").content.decode()


def test_refused_promotion_shows_why_and_asks_for_a_reason_to_override(alpha_client, tenant_a, populated):
    worse = factories.make_model_version(tenant_a, populated["version"], accuracy=0.5)
    response = alpha_client.post(f"/models/support/v{worse.number}/promote/", {})
    assert response.status_code == 409
    html = response.content.decode()
    assert "quality check refused" in html and "worse than production v1" in html
    # Accuracy 0.5 against its baseline's 0.5: no lift, and the figures say so.
    assert "less than the required 0.010" in html and 'id="gate-figures"' in html
    assert 'name="override_reason"' in html
    again = alpha_client.post(f"/models/support/v{worse.number}/promote/", {"override_reason": ""})
    assert again.status_code == 409
    forced = alpha_client.post(f"/models/support/v{worse.number}/promote/", {"override_reason": "demo only"})
    assert forced.status_code == 302
    with tenant_context(tenant_a):
        from inference.selectors.registry import model_aliases

        assert model_aliases(model=worse.model)["production"] == worse.number
    history = alpha_client.get("/models/support/").content.decode()
    assert "demo only" in history


def test_rollback_confirms_then_moves_production_back(alpha_client, tenant_a, populated):
    alpha_client.post("/models/support/v2/promote/", {})
    html = alpha_client.get("/models/support/rollback/").content.decode()
    assert "Production moves back from <strong>v2</strong>" in html and "<strong>v1</strong>" in html
    alpha_client.post("/models/support/rollback/")
    with tenant_context(tenant_a):
        from inference.selectors.registry import model_aliases

        assert model_aliases(model=populated["v1"].model)["production"] == 1


def test_rollback_page_names_the_version_each_repeated_rollback_moves_to(alpha_client, tenant_a, populated):
    from inference.selectors.registry import model_aliases

    def production() -> int:
        with tenant_context(tenant_a):
            return model_aliases(model=populated["v1"].model)["production"]

    factories.make_model_version(tenant_a, populated["version"], accuracy=0.95)  # v3
    alpha_client.post("/models/support/v2/promote/", {})
    alpha_client.post("/models/support/v3/promote/", {})
    # Production went v1 → v2 → v3: each rollback walks one promotion back, as the page says.
    for expected in (2, 1):
        html = alpha_client.get("/models/support/rollback/").content.decode()
        assert f"Roll back to v{expected}</button>" in html
        alpha_client.post("/models/support/rollback/")
        assert production() == expected
    html = alpha_client.get("/models/support/rollback/").content.decode()
    assert "There is no earlier production version" in html and "Roll back to v" not in html
    assert "v1 has no earlier version to roll back to" in html  # the service's own reason
    assert "Roll back to v" not in alpha_client.get("/models/support/").content.decode()


def test_compare_shows_both_versions_side_by_side(alpha_client, populated):
    html = alpha_client.get("/models/support/compare/?a=1&b=2").content.decode()
    assert "better by 0.022" in html
    assert "lost_card" in html


def test_overview_suggests_the_next_step(alpha_client, populated):
    html = alpha_client.get("/").content.decode()
    assert "v2 of “support” beats production v1" in html
    assert "Training “support” is under way" in html
    assert "7 <span" in html  # requests this week


# ---- API keys, usage, feedback ---------------------------------------------------------------


def test_api_key_is_shown_once_with_examples_and_can_be_revoked(alpha_client, tenant_a, populated):
    response = alpha_client.post("/api-keys/", {"name": "crm", "scopes": ["predict"]})
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    raw = re.search(r"data-raw-key>(scl_[^<]+)<", html).group(1)
    assert f"Bearer {raw}" in html
    assert "http://localhost/api/v1/models/support/predict" in html
    key = ApiKey.objects.get(tenant=tenant_a, name="crm")
    assert raw.startswith(f"scl_{key.prefix}_")
    listing = alpha_client.get("/api-keys/").content.decode()
    assert raw not in listing and key.prefix in listing
    alpha_client.post(f"/api-keys/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_api_key_examples_use_the_request_port(alpha_client, populated):
    html = alpha_client.post(
        "/api-keys/", {"name": "x", "scopes": ["predict"]}, HTTP_HOST=f"{ALPHA}:8123"
    ).content.decode()
    assert "http://localhost:8123/api/v1/models/support/predict" in html


def test_usage_shows_requests_per_key(alpha_client, populated):
    html = alpha_client.get("/usage/").content.decode()
    assert "helpdesk" in html and populated["key"].prefix in html
    assert "Requests per day: 7 in total" in html


def test_feedback_is_added_to_a_new_version_and_retrained(alpha_client, tenant_a, populated):
    from inference.models import Feedback

    with tenant_context(tenant_a):
        pending = list(Feedback.objects.values_list("pk", flat=True))
    page = alpha_client.get("/feedback/").content.decode()
    assert "my card never came" in page
    response = alpha_client.post(
        "/feedback/apply/",
        {"feedback": pending, "dataset": "support", "model_name": "support", "retrain": "on"},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        job = TrainingJob.objects.order_by("-pk").first()
        assert job.dataset_version.number == 2 and job.dataset_version.source_kind == "feedback"
        assert not Feedback.objects.filter(applied_to__isnull=True).exists()
    assert response["Location"] == f"/training/jobs/{job.pk}/"


def test_login_as_other_tenant_user_works_only_on_its_own_host(tenant_b):
    from django.test import Client

    beta = login(Client(HTTP_HOST=BETA), BETA, "admin@beta.example", "pass-beta-7391")
    assert beta.get("/").status_code == 200
    assert beta.get("/", HTTP_HOST=ALPHA).status_code == 302


# ---- progress text for every state of a job ---------------------------------------------------


def _job_in_state(tenant, data, *, status, progress, **fields):
    job = factories.make_job(tenant, data["version"], status=status, progress=progress)
    with tenant_context(tenant):
        TrainingJob.objects.filter(pk=job.pk).update(
            finished_at=None if status in ("queued", "running") else timezone.now(), **fields
        )
    return job


@pytest.mark.parametrize(
    ("status", "progress", "fields", "shown", "never"),
    [
        (
            "succeeded", {"phase": "done", "epoch": 3, "epochs": 3, "eta_seconds": 0.0}, {},
            ["Done · 3 epochs"], ["left", "stopped early"],
        ),
        (
            "cancelled", {"phase": "training", "epoch": 2, "epochs": 5, "eta_seconds": 42},
            {"error": "Cancelled by a user.", "error_code": "cancelled"},
            ["Cancelled at epoch 2"], ["left", "stopped early", "42 s"],
        ),
        (
            "failed", {"phase": "training", "epoch": 2, "epochs": 5, "eta_seconds": 42},
            {"error": "Stopped: the job ran past its time budget of 600 seconds. Use fewer epochs.",
             "error_code": "time_budget_exceeded", "time_budget_seconds": 600},
            ["Ran out of time at epoch 2 (the limit is 10 min)"], ["left", "stopped early"],
        ),
        (
            "failed", {"phase": "evaluating", "epoch": 1, "epochs": 3},
            {"error": "The worker ran out of memory. Try a smaller batch size.", "error_code": "training_failed"},
            ["Failed at epoch 1: The worker ran out of memory"], ["left", "stopped early"],
        ),
        (
            "running", {"phase": "training", "epoch": 1, "epochs": 3, "step": 1, "total_steps": 12},
            {}, ["estimating time left…"], ["estimating… left", "stopped early"],
        ),
        (
            "running", {"phase": "training", "epoch": 2, "epochs": 3, "eta_seconds": 95}, {},
            ["epoch 2 of 3 · about 2 min left"], ["stopped early"],
        ),
    ],
)  # fmt: skip
def test_job_card_tells_each_state_in_its_own_words(
    alpha_client, tenant_a, populated, status, progress, fields, shown, never
):
    job = _job_in_state(tenant_a, populated, status=status, progress=progress, **fields)
    card = alpha_client.get(f"/training/jobs/{job.pk}/progress/?compact=1").content.decode()
    summary = re.search(r"data-summary>([^<]*)<", card).group(1)
    for text in shown:
        assert text in summary, summary
    for text in never:
        assert text not in summary, summary
    page = alpha_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "stopped early" not in page
    if status == "failed":
        assert fields["error"] in page  # the whole reason, on the job page


def test_early_stop_is_mentioned_only_when_the_engine_reports_it(alpha_client, tenant_a, populated):
    version = populated["v2"]
    with tenant_context(tenant_a):
        version.metrics = {**version.metrics, "train_info": {"epochs_run": 4, "stopped_early": True}}
        version.save()
    job = _job_in_state(
        tenant_a, populated, status="succeeded", progress={"phase": "done", "epoch": 4, "epochs": 10},
        model_version=version,
    )  # fmt: skip
    card = alpha_client.get(f"/training/jobs/{job.pk}/progress/?compact=1").content.decode()
    assert "Done · 4 epochs (stopped early: no further gains)" in card
    page = alpha_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "4 of 10 planned (stopped early: no further gains)" in page


# ---- live progress keeps focus and the log's scroll position --------------------------------


def test_polling_replaces_only_the_figures_and_appends_new_log_lines(alpha_client, tenant_a, populated):
    from inference.services.training import job_event

    job = populated["job"]
    with tenant_context(tenant_a):
        first = job_event(job, "epoch 1 of 3: training loss 0.812")
    page = alpha_client.get(f"/training/jobs/{job.pk}/").content.decode()
    # The polled element is the figures block, not the whole page body; the button has a stable id.
    assert re.search(rf'id="job-{job.pk}-progress" hx-get="[^"]*after={first.pk}', page)
    assert f'id="job-{job.pk}"' in page and f'id="job-{job.pk}" hx-get' not in page
    assert f'<button id="job-{job.pk}-cancel"' in page
    assert f'id="job-{job.pk}-log"' in page and "epoch 1 of 3" in page

    poll = alpha_client.get(f"/training/jobs/{job.pk}/progress/?after={first.pk}&settings=0").content.decode()
    assert 'hx-trigger="every 1s"' in poll and "Learning from your examples" in poll
    assert "Cancel training" not in poll and f'id="job-{job.pk}-actions"' not in poll
    assert "hx-swap-oob" not in poll  # nothing new: the log and the button are left alone

    with tenant_context(tenant_a):
        second = job_event(job, "epoch 2 of 3: training loss 0.501")
    poll = alpha_client.get(f"/training/jobs/{job.pk}/progress/?after={first.pk}&settings=0").content.decode()
    assert f'hx-swap-oob="afterbegin:#job-{job.pk}-log"' in poll
    assert "epoch 2 of 3" in poll and "epoch 1 of 3" not in poll  # only the new line
    assert f"after={second.pk}" in poll  # the next poll asks for what comes after it
    assert "Cancel training" not in poll


def test_the_last_poll_removes_the_cancel_button(alpha_client, tenant_a, populated):
    job = populated["job"]
    with tenant_context(tenant_a):
        TrainingJob.objects.filter(pk=job.pk).update(status="cancelled", finished_at=timezone.now())
    poll = alpha_client.get(f"/training/jobs/{job.pk}/progress/?after=0&settings=1").content.decode()
    assert "hx-trigger" not in poll
    assert re.search(
        rf'<div id="job-{job.pk}-actions" class="job-actions" hx-swap-oob="true">\s*</div>', poll
    )


def test_settings_are_sent_once_the_worker_has_resolved_them(alpha_client, tenant_a, populated):
    job = populated["job"]
    url = f"/training/jobs/{job.pk}/progress/?after=0&settings=0"
    assert f'id="job-{job.pk}-settings"' not in alpha_client.get(url).content.decode()
    with tenant_context(tenant_a):
        TrainingJob.objects.filter(pk=job.pk).update(
            resolved_method="head", resolved_hyperparameters={"epochs": 40}
        )
    poll = alpha_client.get(url).content.decode()
    assert re.search(rf'id="job-{job.pk}-settings"[^>]*hx-swap-oob="true"', poll) and "40" in poll
    assert "settings=1" in poll


# ---- screen readers: every aria-describedby names an element that exists ---------------------


def _dangling_descriptions(html: str) -> list[str]:
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    refs = [ref for value in re.findall(r'aria-describedby="([^"]*)"', html) for ref in value.split()]
    return [ref for ref in refs if ref not in ids]


def test_help_texts_and_errors_are_linked_to_their_inputs(alpha_client, populated):
    from django.core.files.uploadedfile import SimpleUploadedFile

    invalid_training = alpha_client.post(
        "/training/start/",
        {"dataset": "support", "model_name": "x y", "method": "auto", "base_model": "minilm-l6", "epochs": "0"},
    ).content.decode()  # fmt: skip
    assert 'aria-describedby="id_model_name_helptext id_model_name_error"' in invalid_training
    assert 'id="id_epochs_error"' in invalid_training
    invalid_upload = alpha_client.post(
        "/datasets/upload/", {"file": SimpleUploadedFile("t.csv", b""), "name": "", "format": "auto"}
    ).content.decode()
    assert 'id="id_name_error"' in invalid_upload and 'id="id_file_helptext"' in invalid_upload
    invalid_key = alpha_client.post("/api-keys/", {"name": ""}).content.decode()
    pages = [invalid_training, invalid_upload, invalid_key]
    pages += [alpha_client.get(url).content.decode() for url in STATIC_PAGES]
    assert all('aria-describedby="' in html for html in pages[:3])
    for html in pages:
        assert _dangling_descriptions(html) == []


# ---- labels without test examples are not weak ----------------------------------------------


def test_a_label_without_test_examples_is_unknown_not_weak(alpha_client, tenant_a, populated):
    with tenant_context(tenant_a):
        for version in (populated["v1"], populated["v2"]):
            version.metrics["per_label"]["refund"] = {
                "precision": 0.0,
                "recall": 0.0,
                "f1": 0.0,
                "support": 0,
            }
            version.save()
    html = alpha_client.get("/models/support/v2/").content.decode()
    assert "1 label needs more examples" in html  # lost_card only
    weak = html[html.index('id="weak-heading"') : html.index("Upload more examples</a>")]
    assert "refund" not in weak
    assert "1 label with no test examples" in html
    row = re.search(r'<li class="bar-row[^"]*">(?:(?!</li>).)*refund(?:(?!</li>).)*</li>', html, re.S).group(
        0
    )
    assert "is-flagged" not in row and "is-unscored" in row and "no test examples" in row
    assert html.index("lost_card</span>") < html.index('title="refund"')  # unscored labels come last
    overview = alpha_client.get("/").content.decode()
    assert "weak label" not in overview and "refund" not in overview


# ---- compare from a version page -----------------------------------------------------------


def test_compare_from_a_version_page_sets_it_against_another_version(alpha_client, tenant_a, populated):
    # v1 is in production: v2 is compared with it, and v1 with the version next to it.
    assert "/models/support/compare/?a=1&amp;b=2" in alpha_client.get("/models/support/v2/").content.decode()
    assert "/models/support/compare/?a=2&amp;b=1" in alpha_client.get("/models/support/v1/").content.decode()
    v3 = factories.make_model_version(tenant_a, populated["version"], accuracy=0.95)
    with tenant_context(tenant_a):
        from inference.services.registry import model_version_promote

        model_version_promote(version=v3, actor="test")
    assert "/models/support/compare/?a=2&amp;b=3" in alpha_client.get("/models/support/v3/").content.decode()
    # A link or a form that names one version twice still compares two.
    html = alpha_client.get("/models/support/compare/?a=3&b=3").content.decode()
    assert "Compare v2 and v3" in html


def test_a_model_with_one_version_offers_no_compare(alpha_client, tenant_a):
    version = factories.make_dataset(tenant_a, name="solo")
    factories.make_model_version(tenant_a, version, name="solo")
    html = alpha_client.get("/models/solo/v1/").content.decode()
    assert "/models/solo/compare/" not in html


# ---- usage per key and day -------------------------------------------------------------------


def test_usage_shows_each_keys_requests_per_day(alpha_client, tenant_a, populated):
    from datetime import timedelta

    today = timezone.now().date()
    crm, _ = api_key_create(tenant=tenant_a, name="crm")
    for days_ago, requests in [(1, 3), (4, 5)]:
        UsageDay.objects.create(
            tenant=tenant_a, api_key=crm, key_prefix=crm.prefix, day=today - timedelta(days=days_ago),
            requests=requests, texts=requests * 2,
        )  # fmt: skip
    html = alpha_client.get("/usage/").content.decode()
    assert "Requests per day: 15 in total" in html  # every key
    assert 'aria-label="crm: 8 requests in 30 days, most on' in html  # a sparkline per key
    assert 'aria-label="helpdesk: 7 requests in 30 days' in html
    assert f'href="?key={crm.prefix}#req-heading"' in html
    one = alpha_client.get(f"/usage/?key={crm.prefix}").content.decode()
    assert "Requests per day with key crm: 8 in total" in one
    assert "Texts predicted per day with key crm: 16 in total" in one
    assert f'<option value="{crm.prefix}" selected>' in one
    # The screen-reader table under the chart lists that key's days.
    day = (today - timedelta(days=4)).isoformat()
    assert f"<th>{day}</th><td>5</td>" in one
    # A prefix of no key of this workspace shows every key.
    assert "Requests per day: 15 in total" in alpha_client.get("/usage/?key=nope").content.decode()


# ---- multilabel: threshold and wrong examples ------------------------------------------------


def _multilabel_version(tenant):
    from inference.models import Model, ModelVersion
    from inference.selectors.datasets import dataset_version_examples
    from inference.services.datasets import dataset_upload

    lines = ["text,labels"]
    for i in range(10):
        lines += [f"card late {i},card", f"pin reset {i},pin", f"card and pin {i},card|pin"]
    with tenant_context(tenant):
        version = dataset_upload(
            name="tags", file=("\n".join(lines) + "\n").encode(), filename="tags.csv", task="multilabel",
            text_column="text", label_column="labels", actor="test",
        )  # fmt: skip
        test_rows = list(dataset_version_examples(version=version, split="test"))
        predictions = [{"labels": sorted(row.labels), "scores": {}} for row in test_rows]
        wrong = test_rows[0]
        predicted = ["pin"] if wrong.labels != ["pin"] else ["card"]
        predictions[0] = {"labels": predicted, "scores": {"card": 0.31, "pin": 0.62}}
        model = Model.objects.create(name="tags", task="multilabel")
        metrics = {
            "task": "multilabel",
            "test_size": len(test_rows),
            "micro_f1": 0.9,
            "macro_f1": 0.9,
            "subset_accuracy": 0.8,
            "per_label": {
                "card": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 5},
                "pin": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 5},
            },
            "threshold": 0.35,
            "headline": {"name": "micro_f1", "value": 0.9},
            "baseline": {
                "name": "tfidf_logreg",
                "headline": {"name": "micro_f1", "value": 0.7},
                "threshold": 0.4,
            },
            "lift": 0.2,
            "predictions": predictions,
            "train_info": {"validation_size": 3},
        }
        ModelVersion.objects.create(
            model=model, number=1, artifact_path="-", artifact_checksum="0" * 64, labels=["card", "pin"],
            metrics=metrics, headline_metric="micro_f1", headline_value=0.9, baseline_value=0.7,
            dataset_version=version, dataset_hash="-", base_model_id="minilm-l6", method="head",
        )  # fmt: skip
    return wrong, predicted


def test_multilabel_version_shows_its_threshold_and_wrong_examples(alpha_client, tenant_a):
    wrong, predicted = _multilabel_version(tenant_a)
    html = alpha_client.get("/models/tags/v1/").content.decode()
    assert "scores at <strong>0.35</strong> or more" in html and "chosen on the validation examples" in html
    assert "The simple baseline's, chosen the same way, is 0.40" in html
    assert 'Examples it got wrong <span class="muted">(1)</span>' in html
    row = re.search(r"<tr><td>" + re.escape(wrong.text) + r"</td>.*?</tr>", html, re.S).group(0)
    for label in set(wrong.labels) - set(predicted):
        assert f"{label} · missed" in row
    for label in set(predicted) - set(wrong.labels):
        assert f"{label} · wrong" in row
    other = (
        next(lab for lab in ("card", "pin") if lab not in wrong.labels) if len(wrong.labels) == 1 else None
    )
    if other:
        filtered = alpha_client.get(f"/models/tags/v1/?label={other}").content.decode()
        assert wrong.text not in filtered


# ---- smaller fixes: filters, errors next to their field, capped reports, time limit -----------


def test_the_true_label_filter_waits_for_its_button(alpha_client, populated):
    html = alpha_client.get("/models/support/v2/").content.decode()
    form = re.search(r'<form method="get" action="#mistakes".*?</form>', html, re.S).group(0)
    assert "onchange" not in form and "<noscript>" not in form
    assert '<button class="btn btn-small" type="submit">Show</button>' in form


def test_a_service_refusal_about_the_model_name_is_shown_next_to_it(alpha_client, populated):
    response = alpha_client.post(
        "/training/start/", {"dataset": "support", "model_name": "My-Model", "method": "auto", "base_model": "minilm-l6"}
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'<div class="errors" role="alert" id="id_model_name_error">(.*?)</div>', html, re.S)
    assert error and "is not a valid model name" in error.group(1)
    assert 'class="notice notice-error"' not in html  # not in the form-wide box above


def test_service_refusals_go_to_their_field_or_above_the_form(tenant_a, populated):
    from core.exceptions import ApplicationError
    from inference.dashboard.forms import TrainingStartForm

    with tenant_context(tenant_a):
        form = TrainingStartForm({"dataset": "support", "method": "auto", "base_model": "minilm-l6"})
        assert form.is_valid()
        form.add_service_error(
            ApplicationError(
                "Invalid hyperparameters: …", details={"hyperparameters": {"epochs": "must be at most 50"}}
            )
        )
        form.add_service_error(
            ApplicationError("There is no active base model 'x'.", code="unknown_base_model")
        )
        form.add_service_error(
            ApplicationError("You already have 2 training job(s) queued.", code="quota_exceeded")
        )
    assert form.errors["epochs"] == ["Must be at most 50."]
    assert form.errors["base_model"] == ["There is no active base model 'x'."]
    assert form.non_field_errors() == ["You already have 2 training job(s) queued."]


def test_a_capped_report_keeps_its_note_and_says_at_least():
    from django.template.loader import render_to_string

    from inference.dashboard import reports

    errors = [
        {"line": n, "code": "empty_text", "message": "This row has no text. Add it."} for n in range(2, 1002)
    ]
    errors.append({"line": None, "code": "too_many_errors", "message": "1,500 more problems were found but are "
                   "not listed. Fix the ones above and upload the file again to see the rest."})  # fmt: skip
    problems = reports.problems({"errors": errors, "error_count": 2500})
    assert [p.title for p in problems] == ["Rows without text", "More problems not listed"]
    assert problems[0].at_least and problems[0].count == 1000
    html = render_to_string("dashboard/components/report.html", {"problems": problems})
    assert "at least 1,000 rows" in html and "at least 988 more" in html
    assert "1,500 more problems were found but are not listed." in html


def test_the_time_limit_is_offered_and_reaches_the_job(alpha_client, tenant_a, populated):
    page = alpha_client.get("/training/").content.decode()
    advanced = page[page.index("Advanced settings") : page.index("Start training")]
    assert 'name="time_budget_minutes"' in advanced
    alpha_client.post(
        "/training/start/",
        {"dataset": "support", "model_name": "quick", "method": "auto", "base_model": "minilm-l6",
         "time_budget_minutes": "15"},
    )  # fmt: skip
    with tenant_context(tenant_a):
        job = TrainingJob.objects.get(model_name="quick")
    assert job.time_budget_seconds == 900
    assert (
        "<dt>Time limit</dt><dd>15 min</dd>" in alpha_client.get(f"/training/jobs/{job.pk}/").content.decode()
    )


def test_a_page_met_by_a_database_outage_is_a_plain_503_with_retry_after(alpha_client, monkeypatch):
    from django.db import OperationalError

    def database_down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("inference.dashboard.views.datasets.dataset_list", database_down)
    page = alpha_client.get("/datasets/")
    assert page.status_code == 503 and int(page["Retry-After"]) > 0
    assert "Temporarily unavailable" in page.content.decode()
