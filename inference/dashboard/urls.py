"""The tenant dashboard: pages for business users, each a thin adapter over services and selectors."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .access import workspace_member_required
from .views import (
    accounts,
    apikeys,
    audit,
    batch,
    datasets,
    feedback,
    models,
    monitoring,
    overview,
    playground,
    quotas,
    review,
    team,
    training,
    usage,
    webhooks,
)


def page(route: str, view, name: str):
    # Login and a role in the workspace are required here, in one place, so a new page cannot forget them.
    return path(route, workspace_member_required(view), name=name)


urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/invitation/<str:token>/", accounts.invitation, name="invitation-accept"),
    path("accounts/password-reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    page("", overview.overview, "dashboard-home"),
    # Datasets
    page("datasets/", datasets.dataset_list_view, "dashboard-datasets"),
    page("datasets/upload/", datasets.dataset_upload_view, "dashboard-dataset-upload"),
    page("datasets/upload/preview/", datasets.dataset_upload_preview_view, "dashboard-dataset-upload-preview"),
    page("datasets/<slug:name>/", datasets.dataset_detail, "dashboard-dataset"),
    page("datasets/<slug:name>/delete/", datasets.dataset_delete_view, "dashboard-dataset-delete"),
    page("datasets/<slug:name>/compare/", datasets.dataset_compare, "dashboard-dataset-compare"),
    page("datasets/<slug:name>/v<int:number>/", datasets.dataset_detail, "dashboard-dataset-version"),
    page(
        "datasets/<slug:name>/v<int:number>/delete/",
        datasets.dataset_delete_view,
        "dashboard-dataset-version-delete",
    ),
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
    page("models/<slug:name>/monitoring/", monitoring.model_monitoring, "dashboard-model-monitoring"),
    page("models/<slug:name>/monitoring.csv", monitoring.model_monitoring_csv, "dashboard-model-monitoring-csv"),
    page("models/<slug:name>/batch/", batch.batch_page, "dashboard-model-batch"),
    page(
        "models/<slug:name>/batch/<int:batch_id>/results.<str:fmt>",
        batch.batch_results,
        "dashboard-model-batch-results",
    ),
    page("models/<slug:name>/batch/<int:batch_id>/cancel/", batch.batch_cancel, "dashboard-model-batch-cancel"),
    page("models/<slug:name>/batch/<int:batch_id>/delete/", batch.batch_delete, "dashboard-model-batch-delete"),
    page("models/<slug:name>/v<int:number>/", models.version_detail, "dashboard-model-version"),
    page("models/<slug:name>/v<int:number>/promote/", models.version_promote, "dashboard-model-promote"),
    # Using the model
    page("playground/", playground.playground, "dashboard-playground"),
    page("api-keys/", apikeys.api_key_page, "dashboard-api-keys"),
    page("api-keys/<int:key_id>/revoke/", apikeys.api_key_revoke_view, "dashboard-api-key-revoke"),
    page("usage/", usage.usage_page, "dashboard-usage"),
    page("quotas/", quotas.quotas_page, "dashboard-quotas"),
    # The team and its log
    page("team/", team.team_page, "dashboard-team"),
    page("team/invite/", team.team_invite, "dashboard-team-invite"),
    page("team/<int:user_id>/role/", team.team_role_change, "dashboard-team-role"),
    page("team/<int:user_id>/remove/", team.team_remove, "dashboard-team-remove"),
    page("team/sign-in-policy/", team.team_security, "dashboard-team-security"),
    page("audit/", audit.audit_log, "dashboard-audit"),
    page("webhooks/", webhooks.webhook_list, "dashboard-webhooks"),
    page("webhooks/<int:endpoint_id>/", webhooks.webhook_detail, "dashboard-webhook"),
    page("webhooks/<int:endpoint_id>/test/", webhooks.webhook_test, "dashboard-webhook-test"),
    page("webhooks/<int:endpoint_id>/delete/", webhooks.webhook_delete, "dashboard-webhook-delete"),
    page("feedback/", feedback.feedback_inbox, "dashboard-feedback"),
    page("feedback/apply/", feedback.feedback_apply_view, "dashboard-feedback-apply"),
    page("feedback/correct/", review.correct, "dashboard-correct"),
    page("feedback/<int:feedback_id>/dismiss/", review.feedback_dismiss_view, "dashboard-feedback-dismiss"),
    page("review/", review.review_page, "dashboard-review"),
    page("review/<int:log_id>/", review.review_action, "dashboard-review-action"),
    page("review/logging/<slug:name>/", review.review_logging, "dashboard-review-logging"),
]
