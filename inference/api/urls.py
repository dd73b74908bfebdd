"""The REST API, /api/v1/. A key names its tenant, so these URLs work on every host."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import batch, datasets, predict, registry, training
from .usage import UsageApi

urlpatterns = [
    path("datasets", datasets.DatasetListApi.as_view(), name="api-dataset-list"),
    path("datasets/<slug:name>", datasets.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path(
        "datasets/<slug:name>/versions", datasets.DatasetVersionUploadApi.as_view(), name="api-dataset-upload"
    ),
    path(
        "datasets/<slug:name>/versions/<int:n>",
        datasets.DatasetVersionDetailApi.as_view(),
        name="api-dataset-version-detail",
    ),
    path("training-jobs", training.TrainingJobListApi.as_view(), name="api-training-job-list"),
    path("training-jobs/<int:id>", training.TrainingJobDetailApi.as_view(), name="api-training-job-detail"),
    path(
        "training-jobs/<int:id>/cancel",
        training.TrainingJobCancelApi.as_view(),
        name="api-training-job-cancel",
    ),
    path("models", registry.ModelListApi.as_view(), name="api-model-list"),
    path("models/<slug:name>", registry.ModelDetailApi.as_view(), name="api-model-detail"),
    path(
        "models/<slug:name>/versions", registry.ModelVersionListApi.as_view(), name="api-model-version-list"
    ),
    path(
        "models/<slug:name>/versions/<int:n>",
        registry.ModelVersionDetailApi.as_view(),
        name="api-model-version-detail",
    ),
    path(
        "models/<slug:name>/versions/<int:n>/promote",
        registry.ModelVersionPromoteApi.as_view(),
        name="api-model-version-promote",
    ),
    path(
        "models/<slug:name>/compare",
        registry.ModelVersionCompareApi.as_view(),
        name="api-model-version-compare",
    ),
    path("models/<slug:name>/rollback", registry.ModelRollbackApi.as_view(), name="api-model-rollback"),
    path("models/<slug:name>/predict", predict.PredictApi.as_view(), name="api-model-predict"),
    path(
        "models/<slug:name>/batch-predictions",
        batch.BatchPredictionListApi.as_view(),
        name="api-batch-prediction-list",
    ),
    path(
        "models/<slug:name>/batch-predictions/<int:id>",
        batch.BatchPredictionDetailApi.as_view(),
        name="api-batch-prediction-detail",
    ),
    path(
        "models/<slug:name>/batch-predictions/<int:id>/cancel",
        batch.BatchPredictionCancelApi.as_view(),
        name="api-batch-prediction-cancel",
    ),
    path(
        "models/<slug:name>/batch-predictions/<int:id>/results",
        batch.BatchPredictionResultsApi.as_view(),
        name="api-batch-prediction-results",
    ),
    path("feedback", predict.FeedbackApi.as_view(), name="api-feedback"),
    path("usage", UsageApi.as_view(), name="api-usage"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
]
