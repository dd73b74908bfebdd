"""Batch predictions over the API: send a file, follow its progress, download the answers."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.exceptions import ApplicationError, Conflict, NotFound
from inference.models import BatchPrediction, Model
from inference.services.batch import (
    batch_prediction_cancel,
    batch_prediction_delete,
    batch_prediction_start,
    batch_results_csv,
    batch_results_lines,
)

from .base import ApiView
from .fields import VersionRefField
from .schema import MODEL_NAME, responses

BATCH_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Batch prediction id.")
BATCH_404 = "not_found: there is no model of that name, or no batch prediction of that id on it."


class BatchPredictionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.number", help_text="The version answering every row.")
    status = serializers.CharField(help_text="queued, running, succeeded, failed or cancelled.")
    file = serializers.CharField(source="input_filename")
    format = serializers.CharField(source="input_format")
    text_column = serializers.CharField()
    top_k = serializers.IntegerField(allow_null=True)
    rows_total = serializers.IntegerField(help_text="Rows in the file (0 until the worker has counted them).")
    rows_done = serializers.IntegerField(help_text="Rows answered so far, in file order.")
    rows_failed = serializers.IntegerField(help_text="Rows without a usable text (their line says why).")
    progress = serializers.SerializerMethodField(help_text="rows_done / rows_total, 0 to 1.")
    error = serializers.CharField()
    results_url = serializers.SerializerMethodField(
        help_text="Where to download the answers, once succeeded."
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, batch) -> float:
        if batch.status == BatchPrediction.Status.SUCCEEDED:
            return 1.0
        return round(batch.rows_done / batch.rows_total, 4) if batch.rows_total else 0.0

    def get_results_url(self, batch) -> str | None:
        if batch.status != BatchPrediction.Status.SUCCEEDED:
            return None
        return f"/api/v1/models/{batch.model.name}/batch-predictions/{batch.pk}/results"


def _batch_or_404(name: str, batch_id: int) -> BatchPrediction:
    batch = (
        BatchPrediction.objects.select_related("model", "version")
        .filter(model__name=name, pk=batch_id)
        .first()
    )
    if batch is None:
        raise NotFound(f"The model '{name}' has no batch prediction {batch_id}.")
    return batch


class BatchPredictionListApi(ApiView):
    parser_classes = [MultiPartParser, FormParser]
    page_max = 200

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="CSV, TSV or JSON Lines, UTF-8, one text per row.")
        text_column = serializers.CharField(
            default="text", max_length=200, help_text="The column (or JSON field) holding the texts."
        )
        format = serializers.ChoiceField(
            choices=["csv", "tsv", "jsonl"], required=False, help_text="Default: from the file's extension."
        )
        version = VersionRefField(
            required=False, allow_null=True, help_text="Default: production, else the newest."
        )
        top_k = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)

    def initial(self, request, *args, **kwargs):
        self.required_scope = "predict" if request.method == "POST" else "read"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="batch_prediction_list",
        summary="List batch predictions",
        description="The model's batch predictions, newest first, with their status and progress. Scope: read.",
        parameters=[MODEL_NAME],
        responses=responses({200: BatchPredictionSerializer(many=True)}, {404: BATCH_404}),
    )
    def get(self, request, name: str):
        if not Model.objects.filter(name=name).exists():
            raise NotFound(f"There is no model named '{name}'.")
        rows = BatchPrediction.objects.select_related("model", "version").filter(model__name=name)
        return self.page(rows, BatchPredictionSerializer)

    @extend_schema(
        operation_id="batch_prediction_create",
        summary="Predict a whole file",
        description="Queues a file of texts (CSV/TSV with a header, or JSON Lines) to be answered by the "
        "model's production version (else its newest) or the version you name. A worker answers every "
        "row in file order with what `predict` answers for it (label, score and top labels; entities "
        "for extraction), streaming the file, so its size does not matter up to "
        f"{settings.SCALPEL_BATCH_MAX_BYTES:,} bytes. Poll the batch for progress, then download "
        "`results_url`. A row without a usable text gets an `error` line instead. The texts count in "
        "usage. The header is checked before anything is stored: a missing text column is a 400 "
        "naming the file's columns. Scope: predict.",
        parameters=[MODEL_NAME],
        request={"multipart/form-data": InputSerializer},
        responses=responses(
            {202: BatchPredictionSerializer},
            {
                404: "not_found: there is no model of that name, or it has no such version or alias.",
                409: "model_not_ready: the model has no trained version yet.",
                413: "payload_too_large: the file is over the limit (`details.max_bytes`).",
                415: "unsupported_media_type: send the file as multipart/form-data.",
            },
        ),
    )
    def post(self, request, name: str):
        declared = request.META.get("CONTENT_LENGTH")
        limit = settings.SCALPEL_BATCH_MAX_BYTES
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise ApplicationError(
                f"The request has {int(declared):,} bytes; a batch file may have at most {limit:,}. "
                "Split it into several batches.",
                code="payload_too_large",
                details={"max_bytes": limit},
            )
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch = batch_prediction_start(
            model_name=name,
            file=data["file"],
            filename=data["file"].name,
            text_column=data["text_column"],
            version=data.get("version"),
            top_k=data.get("top_k"),
            fmt=data.get("format"),
            actor=request.user.actor,
            api_key=request.auth.key,
        )
        return Response(BatchPredictionSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


class BatchPredictionDetailApi(ApiView):
    def initial(self, request, *args, **kwargs):
        self.required_scope = "predict" if request.method == "DELETE" else "read"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="batch_prediction_retrieve",
        summary="Read a batch prediction",
        description="Its status, rows answered so far and, once it succeeded, `results_url`. Scope: read.",
        parameters=[MODEL_NAME, BATCH_ID],
        responses=responses({200: BatchPredictionSerializer}, {404: BATCH_404}),
    )
    def get(self, request, name: str, id: int):  # noqa: A002 - the URL names it id, like training-jobs
        return Response(BatchPredictionSerializer(_batch_or_404(name, id)).data)

    @extend_schema(
        operation_id="batch_prediction_destroy",
        summary="Delete a batch prediction",
        description="Deletes the batch with its uploaded file and its results. A running batch must be "
        "cancelled first (409 batch_running). Scope: predict.",
        parameters=[MODEL_NAME, BATCH_ID],
        responses=responses({204: None}, {404: BATCH_404, 409: "batch_running: cancel it first."}),
    )
    def delete(self, request, name: str, id: int):  # noqa: A002 - the URL names it id, like training-jobs
        batch_prediction_delete(batch=_batch_or_404(name, id), actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchPredictionCancelApi(ApiView):
    required_scope = "predict"

    @extend_schema(
        operation_id="batch_prediction_cancel",
        summary="Cancel a batch prediction",
        description="A queued batch is cancelled at once; a running one stops after the rows it is "
        "answering (at most a few hundred). Refused with 409 batch_finished once it ended. Scope: predict.",
        parameters=[MODEL_NAME, BATCH_ID],
        request=None,
        responses=responses({200: BatchPredictionSerializer}, {404: BATCH_404, 409: "batch_finished."}),
    )
    def post(self, request, name: str, id: int):  # noqa: A002 - the URL names it id, like training-jobs
        batch = batch_prediction_cancel(batch=_batch_or_404(name, id), actor=request.user.actor)
        return Response(BatchPredictionSerializer(batch).data)


class BatchPredictionResultsApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="batch_prediction_results",
        summary="Download a batch's answers",
        description="JSON Lines, one line per input row in file order: `row` (0-based), `text` and the "
        "fields `predict` answers with (`label`, `score`, `labels`; `entities` for extraction), or "
        "`error` for a row without a usable text. `?format=csv` gives the same as CSV "
        "(row, text, label, score, labels, entities, error). 409 batch_not_finished until it succeeded. "
        "Scope: read.",
        parameters=[
            MODEL_NAME,
            BATCH_ID,
            OpenApiParameter("format", str, enum=["jsonl", "csv"], description="Default jsonl."),
        ],
        responses=responses(
            {200: OpenApiResponse(OpenApiTypes.BINARY, description="The answers as a file.")},
            {404: BATCH_404, 409: "batch_not_finished: wait until its status is succeeded."},
        ),
    )
    def get(self, request, name: str, id: int):  # noqa: A002 - the URL names it id, like training-jobs
        batch = _batch_or_404(name, id)
        if batch.status != BatchPrediction.Status.SUCCEEDED or not batch.output_file:
            raise Conflict(
                f"Batch {batch.pk} is {batch.status}: its answers can be downloaded once it succeeded.",
                code="batch_not_finished",
            )
        as_csv = request.query_params.get("format") == "csv"
        body = batch_results_csv(batch) if as_csv else batch_results_lines(batch)
        response = StreamingHttpResponse(
            body, content_type="text/csv; charset=utf-8" if as_csv else "application/x-ndjson"
        )
        ext = "csv" if as_csv else "jsonl"
        response["Content-Disposition"] = f'attachment; filename="{name}-batch-{batch.pk}.{ext}"'
        return response
