"""Datasets over the API: upload a version, list datasets, read a dataset and a version."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from inference.engine.formats import FORMATS
from inference.engine.types import TASKS
from inference.selectors.datasets import dataset_get, dataset_list, dataset_version_get, dataset_version_list
from inference.services.datasets import DatasetUploadError, dataset_upload
from inference.services.errors import NotFound, ServiceError

from .base import ApiView
from .schema import DATASET_NAME, VERSION_NUMBER, responses


class DatasetVersionSummarySerializer(serializers.Serializer):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    source_kind = serializers.CharField(help_text="upload, append or feedback.")
    row_count = serializers.IntegerField()
    split_counts = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per split.")
    content_hash = serializers.CharField()
    trainable = serializers.BooleanField(help_text="False when the report has blocking findings.")


class DatasetVersionSerializer(DatasetVersionSummarySerializer):
    format = serializers.CharField(allow_blank=True)
    source_filename = serializers.CharField(allow_blank=True)
    label_counts = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()), help_text="{split: {label: rows}}."
    )
    labels = serializers.ListField(
        child=serializers.CharField(), help_text="Every label or entity type present."
    )
    split_config = serializers.JSONField(help_text='{"ratios": [train, validation, test], "seed": n}.')
    report = serializers.JSONField(help_text="Validation findings and warnings.")


class DatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    label_set = serializers.ListField(child=serializers.CharField(), help_text="Declared labels; empty: any.")
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    version_count = serializers.IntegerField()
    latest_version = serializers.IntegerField(source="latest_number", allow_null=True)


def _dataset_or_404(name: str):
    dataset = dataset_get(name=name)
    if dataset is None:
        raise NotFound(f"There is no dataset named '{name}' in your workspace.")
    return dataset


class DatasetVersionUploadApi(ApiView):
    required_scope = "data"
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="CSV, TSV, JSON Lines or CoNLL.")
        task = serializers.ChoiceField(
            choices=TASKS, required=False, help_text="Required when the dataset is new."
        )
        text_column = serializers.CharField(default="text", max_length=200)
        label_column = serializers.CharField(required=False, allow_blank=True, max_length=200)
        format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")

    @extend_schema(
        operation_id="dataset_version_upload",
        summary="Upload a file as the dataset's next version (creates the dataset when new)",
        parameters=[DATASET_NAME],
        request={"multipart/form-data": InputSerializer},
        responses=responses({201: DatasetVersionSerializer}, 404, 409),
    )
    def post(self, request, name: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            version = dataset_upload(
                name=name,
                file=data["file"],
                filename=data["file"].name,
                task=data.get("task"),
                text_column=data["text_column"],
                label_column=data.get("label_column") or None,
                format=data["format"],
                actor=str(request.user),
            )
        except DatasetUploadError as exc:
            # Every refused upload is one code for clients; the report says what to fix.
            raise ServiceError(
                exc.message, code="validation_failed", details={"reason": exc.code, **exc.report}
            ) from exc
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DatasetListApi(ApiView):
    required_scope = "read"

    class OutputSerializer(serializers.Serializer):
        results = DatasetSerializer(many=True)

    @extend_schema(operation_id="dataset_list", responses=responses({200: OutputSerializer}))
    def get(self, request):
        return Response(self.OutputSerializer({"results": dataset_list()}).data)


class DatasetDetailApi(ApiView):
    required_scope = "read"

    class OutputSerializer(DatasetSerializer):
        versions = DatasetVersionSummarySerializer(many=True, source="version_summaries")

    @extend_schema(
        operation_id="dataset_retrieve",
        parameters=[DATASET_NAME],
        responses=responses({200: OutputSerializer}, 404),
    )
    def get(self, request, name: str):
        dataset = _dataset_or_404(name)
        versions = list(dataset_version_list(dataset=dataset))
        dataset.version_count = len(versions)
        dataset.latest_number = versions[0].number if versions else None
        dataset.version_summaries = versions
        return Response(self.OutputSerializer(dataset).data)


class DatasetVersionDetailApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="dataset_version_retrieve",
        parameters=[DATASET_NAME, VERSION_NUMBER],
        responses=responses({200: DatasetVersionSerializer}, 404),
    )
    def get(self, request, name: str, n: int):
        dataset = _dataset_or_404(name)
        version = dataset_version_get(dataset=dataset, number=n)
        if version is None:
            raise NotFound(f"The dataset '{name}' has no version {n}.")
        return Response(DatasetVersionSerializer(version).data)
