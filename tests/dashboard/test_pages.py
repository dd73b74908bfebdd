"""Dashboard pages through Django's test client: login, rendering, empty states, tenant isolation, assets."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from inference.models import TrainingJob
from tenants.models import ApiKey, UsageDay
from tenants.services import api_key_create

from . import factories
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
    m = factories.metrics(0.8, labels)
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


def test_refused_promotion_shows_the_gate_message_and_a_force_option(alpha_client, tenant_a, populated):
    worse = factories.make_model_version(tenant_a, populated["version"], accuracy=0.5)
    response = alpha_client.post(f"/models/support/v{worse.number}/promote/", {})
    assert response.status_code == 409
    html = response.content.decode()
    assert "quality check refused" in html and "worse than production v1" in html
    assert 'name="force"' in html
    forced = alpha_client.post(f"/models/support/v{worse.number}/promote/", {"force": "on"})
    assert forced.status_code == 302
    with tenant_context(tenant_a):
        from inference.selectors.registry import model_aliases

        assert model_aliases(model=worse.model)["production"] == worse.number


def test_rollback_confirms_then_moves_production_back(alpha_client, tenant_a, populated):
    alpha_client.post("/models/support/v2/promote/", {})
    html = alpha_client.get("/models/support/rollback/").content.decode()
    assert "Production moves back from <strong>v2</strong>" in html and "<strong>v1</strong>" in html
    alpha_client.post("/models/support/rollback/")
    with tenant_context(tenant_a):
        from inference.selectors.registry import model_aliases

        assert model_aliases(model=populated["v1"].model)["production"] == 1


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
