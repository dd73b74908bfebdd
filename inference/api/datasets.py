"""Datasets over the API: upload a version, list datasets, read a dataset and a version."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.fields import html
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.exceptions import ApplicationError, NotFound
from inference.engine.formats import FORMATS
from inference.engine.types import SPLITS, TASKS
from inference.selectors.datasets import dataset_get, dataset_list, dataset_version_get, dataset_version_list
from inference.services.datasets import (
    DatasetError,
    DatasetUploadError,
    dataset_delete,
    dataset_upload,
    dataset_upload_preview,
    dataset_version_delete,
)
from inference.services.datasets.limits import upload_limit_guard
from inference.services.datasets.options import HELP, labels_parse, split_ratios_parse, upload_kwargs

from .base import ApiView
from .schema import DATASET_NAME, VERSION_NUMBER, responses

DATASET_404 = "not_found: there is no dataset of that name in your workspace."


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
    split_config = serializers.JSONField(
        help_text='{"ratios": [train, validation, test], "seed": n, "given": [splits the files supplied]}; '
        "appended rows never go to a given validation or test split."
    )
    report = serializers.JSONField(help_text="Validation findings and warnings.")


class UploadPreviewSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    version = serializers.IntegerField(help_text="The number the file would get.")
    rows = serializers.IntegerField()
    trainable = serializers.BooleanField()
    report = serializers.JSONField(help_text="The version's report, as a saved version would have it.")
    changes = serializers.JSONField(
        allow_null=True,
        help_text="Against the latest version: from_version, added, removed, relabelled, unchanged, and "
        "samples of each (text, before, after). Null for a new dataset.",
    )


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


class _ParsedTextField(serializers.CharField):
    """Text read by one of the upload option parsers; repeated form values count as one list."""

    def __init__(self, *, parse, joiner: str, **kwargs):
        self.parse, self.joiner = parse, joiner
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and len(dictionary.getlist(self.field_name)) > 1:
            return self.joiner.join(dictionary.getlist(self.field_name))
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        try:
            return self.parse(super().to_internal_value(data))
        except DatasetError as exc:
            raise serializers.ValidationError(exc.message) from exc


def _payload_too_large(refusal: DatasetUploadError) -> ApplicationError:
    return ApplicationError(
        refusal.message,
        code="payload_too_large",
        details={"max_bytes": refusal.report["max_bytes"]},
    )


class DatasetVersionUploadApi(ApiView):
    required_scope = "data"
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="CSV, TSV, JSON Lines or CoNLL.")
        task = serializers.ChoiceField(
            choices=TASKS, required=False, help_text="Required when the dataset is new."
        )
        text_column = serializers.CharField(default="text", max_length=200, help_text=HELP["text_column"])
        label_column = serializers.CharField(
            required=False, allow_blank=True, max_length=200, help_text=HELP["label_column"]
        )
        format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto", help_text=HELP["format"])
        split_column = serializers.CharField(
            required=False, allow_blank=True, max_length=200, help_text=HELP["split_column"]
        )
        split = serializers.ChoiceField(
            choices=SPLITS, required=False, allow_blank=True, help_text=HELP["split"]
        )
        split_ratios = _ParsedTextField(
            parse=split_ratios_parse,
            joiner=",",
            required=False,
            max_length=100,
            help_text=HELP["split_ratios"] + " Three repeated split_ratios values also work.",
        )
        split_seed = serializers.IntegerField(
            required=False, min_value=0, max_value=2**31 - 1, help_text=HELP["split_seed"]
        )
        repair_bio = serializers.BooleanField(required=False, default=False, help_text=HELP["repair_bio"])
        dry_run = serializers.BooleanField(
            required=False,
            default=False,
            help_text="true: check the file and answer 200 with what the version would be and what "
            "changes against the latest version (rows added, removed, relabelled), saving nothing.",
        )
        labels = _ParsedTextField(
            parse=labels_parse,
            joiner="\n",
            required=False,
            allow_blank=True,
            max_length=100_000,
            help_text=HELP["labels"] + " Repeated labels values also work.",
        )

    @extend_schema(
        operation_id="dataset_version_upload",
        summary="Upload a dataset version",
        description="Imports a CSV, TSV, JSON Lines or CoNLL file as the dataset's next version, "
        "creating the dataset when the name is new (then `task` is required). The whole file is "
        "validated first: a file with errors imports nothing, and the answer's `details` lists every "
        "problem by line. With `dry_run=true` nothing is saved: the answer (200) says which version the "
        "file would become, its report and its `changes` against the latest version (rows added, removed, "
        "relabelled, with examples), so a re-upload never drops corrections unseen. Otherwise every "
        "The version gets a content hash, a seeded train/validation/test split for "
        "rows the file does not assign, and a report of its findings. With `split`, every row goes "
        "to that split and is added to the latest version. A file larger than the platform's limit "
        "is refused with 413 payload_too_large (`details.max_bytes`) before its body is read. "
        "Scope: data.",
        parameters=[DATASET_NAME],
        request={"multipart/form-data": InputSerializer},
        responses=responses(
            {201: DatasetVersionSerializer, 200: UploadPreviewSerializer},
            {
                404: "not_found: a dataset name holds only letters, digits, hyphens and underscores.",
                409: "dataset_exists or conflict: another upload created the dataset, or saved a "
                "version of it, at the same moment; send the file again.",
                413: "payload_too_large: the file is larger than the platform accepts (`details.max_bytes`).",
                415: "unsupported_media_type: send the file as multipart/form-data.",
            },
        ),
    )
    def post(self, request, name: str):
        guard = upload_limit_guard(request)  # before anything reads the body
        if guard.refusal():
            raise _payload_too_large(guard.refusal())
        serializer = self.InputSerializer(data=request.data)
        if guard.refusal():  # the file passed the limit while the body was read
            raise _payload_too_large(guard.refusal())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = dataset_upload_preview if data.get("dry_run") else dataset_upload
        try:
            version = upload(
                name=name,
                file=data["file"],
                filename=data["file"].name,
                task=data.get("task"),
                **upload_kwargs(data),
                actor=request.user.actor,
            )
        except DatasetUploadError as exc:
            if exc.code == "file_too_large":
                raise _payload_too_large(exc) from exc
            # Every refused upload is one code for clients; the report says what to fix.
            raise ApplicationError(
                exc.message, code="validation_failed", details={"reason": exc.code, **exc.report}
            ) from exc
        if data.get("dry_run"):
            return Response(version)  # the preview: nothing was saved
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DatasetListApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="dataset_list",
        summary="List datasets",
        description="Your workspace's datasets by name, each with its task, declared labels, how "
        "many versions it has and the latest one's number. Scope: read.",
        responses=responses({200: DatasetSerializer(many=True)}),
    )
    def get(self, request):
        return self.page(dataset_list(), DatasetSerializer)


class DatasetDetailApi(ApiView):
    required_scope = "read"

    class OutputSerializer(DatasetSerializer):
        versions = DatasetVersionSummarySerializer(many=True, source="version_summaries")

    @extend_schema(
        operation_id="dataset_retrieve",
        summary="Read a dataset",
        description="The dataset and a summary of every version, newest first: where its rows came "
        "from, how many there are per split, its content hash and whether it can be trained on. "
        "Scope: read.",
        parameters=[DATASET_NAME],
        responses=responses({200: OutputSerializer}, {404: DATASET_404}),
    )
    def get(self, request, name: str):
        dataset = _dataset_or_404(name)
        versions = list(dataset_version_list(dataset=dataset))
        dataset.version_count = len(versions)
        dataset.latest_number = versions[0].number if versions else None
        dataset.version_summaries = versions
        return Response(self.OutputSerializer(dataset).data)

    @extend_schema(
        operation_id="dataset_destroy",
        summary="Delete a dataset",
        description="Deletes the dataset with every version, the model versions trained on it, their "
        "training jobs and stored files. Refused with 409 `dataset_in_use` while a model version trained "
        "on it is served by an alias or a job on it is queued or running; `details` lists what would "
        "go and each reason it cannot. Scope: admin.",
        parameters=[DATASET_NAME],
        responses=responses({204: None}, {404: DATASET_404, 409: "dataset_in_use: see `details.refusals`."}),
    )
    def delete(self, request, name: str):
        dataset_delete(dataset=_dataset_or_404(name), actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetVersionDetailApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="dataset_version_retrieve",
        summary="Read a dataset version",
        description="One version in full: its rows per split and per label, its labels, how it was "
        "split, and its report (validation findings and warnings, with what to do about them). "
        "Scope: read.",
        parameters=[DATASET_NAME, VERSION_NUMBER],
        responses=responses(
            {200: DatasetVersionSerializer},
            {404: "not_found: there is no dataset of that name, or it has no version of that number."},
        ),
    )
    def get(self, request, name: str, n: int):
        dataset = _dataset_or_404(name)
        version = dataset_version_get(dataset=dataset, number=n)
        if version is None:
            raise NotFound(f"The dataset '{name}' has no version {n}.")
        return Response(DatasetVersionSerializer(version).data)

    @extend_schema(
        operation_id="dataset_version_destroy",
        summary="Delete a dataset version",
        description="Deletes one version with the model versions trained on it, their training jobs and "
        "stored files; the dataset and its other versions stay. Refused with 409 `dataset_in_use` while a "
        "model version trained on it is served by an alias or a job on it is queued or running. "
        "Scope: admin.",
        parameters=[DATASET_NAME, VERSION_NUMBER],
        responses=responses(
            {204: None},
            {
                404: "not_found: there is no dataset of that name, or it has no version of that number.",
                409: "dataset_in_use: see `details.refusals`.",
            },
        ),
    )
    def delete(self, request, name: str, n: int):
        dataset = _dataset_or_404(name)
        version = dataset_version_get(dataset=dataset, number=n)
        if version is None:
            raise NotFound(f"The dataset '{name}' has no version {n}.")
        dataset_version_delete(version=version, actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
