"""The tenant dashboard: pages for business users, each a thin adapter over services and selectors."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import path

from .views import apikeys, datasets, feedback, models, overview, playground, training, usage


def page(route: str, view, name: str):
    # Login is enforced here, in one place, so a new page cannot forget it.
    return path(route, login_required(view), name=name)


urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    page("", overview.overview, "dashboard-home"),
    # Datasets
    page("datasets/", datasets.dataset_list_view, "dashboard-datasets"),
    page("datasets/upload/", datasets.dataset_upload_view, "dashboard-dataset-upload"),
    page("datasets/<slug:name>/", datasets.dataset_detail, "dashboard-dataset"),
    page("datasets/<slug:name>/v<int:number>/", datasets.dataset_detail, "dashboard-dataset-version"),
    page(
        "datasets/<slug:name>/v<int:number>/examples/",
        datasets.dataset_examples,
        "dashboard-dataset-examples",
    ),
    page(
        "datasets/<slug:name>/v<int:number>/export/<str:fmt>/",
        datasets.dataset_export,
        "dashboard-dataset-export",
    ),
    # Training
    page("training/", training.training_list, "dashboard-training"),
    page("training/start/", training.training_start, "dashboard-training-start"),
    page("training/jobs/<int:job_id>/", training.job_detail, "dashboard-job"),
    page("training/jobs/<int:job_id>/progress/", training.job_progress_partial, "dashboard-job-progress"),
    page("training/jobs/<int:job_id>/cancel/", training.job_cancel, "dashboard-job-cancel"),
    # Models
    page("models/", models.model_list_view, "dashboard-models"),
    page("models/<slug:name>/", models.model_detail, "dashboard-model"),
    page("models/<slug:name>/compare/", models.version_compare, "dashboard-model-compare"),
    page("models/<slug:name>/rollback/", models.model_rollback_view, "dashboard-model-rollback"),
    page("models/<slug:name>/v<int:number>/", models.version_detail, "dashboard-model-version"),
    page("models/<slug:name>/v<int:number>/promote/", models.version_promote, "dashboard-model-promote"),
    # Using the model
    page("playground/", playground.playground, "dashboard-playground"),
    page("api-keys/", apikeys.api_key_page, "dashboard-api-keys"),
    page("api-keys/<int:key_id>/revoke/", apikeys.api_key_revoke_view, "dashboard-api-key-revoke"),
    page("usage/", usage.usage_page, "dashboard-usage"),
    page("feedback/", feedback.feedback_inbox, "dashboard-feedback"),
    page("feedback/apply/", feedback.feedback_apply_view, "dashboard-feedback-apply"),
]
