"""Models and their versions over the API: list, read (with the full evaluation), promote, roll back."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from core.exceptions import NotFound
from inference.models import ModelAlias
from inference.selectors.registry import (
    alias_history,
    model_get,
    model_list,
    model_version_get,
    model_version_interval,
    model_version_list,
    model_version_warnings,
)
from inference.services.registry import model_rollback, model_version_promote, model_versions_compare

from .base import ApiView
from .fields import RejectUnknownFieldsMixin
from .schema import BODY_ERRORS, MODEL_NAME, VERSION_NUMBER, responses

MODEL_404 = "not_found: there is no model of that name in your workspace."
VERSION_404 = "not_found: there is no model of that name, or it has no version of that number."


class ModelVersionSummarySerializer(serializers.Serializer):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    aliases = serializers.SerializerMethodField(help_text="Aliases pointing at this version.")
    headline_metric = serializers.CharField(
        allow_blank=True,
        help_text="accuracy (classification), micro_f1 (multilabel) or f1 (extraction: entity-level, strict).",
    )
    headline_value = serializers.FloatField(allow_null=True, help_text="On the dataset version's test split.")
    confidence_interval = serializers.SerializerMethodField(
        help_text="[low, high]: the 95% bootstrap confidence interval of `headline_value` over the test "
        "rows (seeded, 1,000 resamples); null for versions evaluated before intervals were computed."
    )
    baseline_value = serializers.FloatField(
        allow_null=True, help_text="The simple baseline on the same split."
    )
    warnings = serializers.SerializerMethodField(
        help_text="How to read the score, e.g. a small test set (fewer than 100 test texts, or 50 "
        "sentences for extraction) whose score can move by several points."
    )
    method = serializers.CharField()
    base_model = serializers.CharField(source="base_model_id")
    dataset = serializers.CharField(source="dataset_version.dataset.name")
    dataset_version = serializers.IntegerField(source="dataset_version.number")
    runtime = serializers.CharField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, version) -> list[str]:
        return sorted(a.alias for a in version.aliases.all())

    @extend_schema_field(
        serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True)
    )
    def get_confidence_interval(self, version) -> list[float] | None:
        return model_version_interval(version=version)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, version) -> list[str]:
        return model_version_warnings(version=version)


class ModelVersionSerializer(ModelVersionSummarySerializer):
    labels = serializers.ListField(child=serializers.CharField())
    metrics = serializers.JSONField(
        help_text="The full evaluation: headline and its confidence interval (`confidence`: level, "
        "resamples, seed), per-label figures, confusion matrix, baseline, test predictions, each test "
        "row's outcome (`outcomes`, with a fingerprint of the rows) for paired comparisons; `test_source` "
        "(test, carved or validation) and `test_statement` say which rows it was measured on."
    )
    hyperparameters = serializers.JSONField()
    dataset_hash = serializers.CharField()
    artifact_checksum = serializers.CharField()
    artifact_bytes = serializers.IntegerField()
    library_versions = serializers.JSONField()
    training_job = serializers.IntegerField(source="training_job_id", allow_null=True)


class ModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    aliases = serializers.SerializerMethodField(help_text='{"production": 3, "staging": 4}')

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_aliases(self, model) -> dict[str, int]:
        return {a.alias: a.version.number for a in model.aliases.all()}


class AliasChangeSerializer(serializers.Serializer):
    alias = serializers.CharField()
    action = serializers.CharField(help_text="promote, rollback or remove.")
    from_version = serializers.IntegerField(allow_null=True)
    to_version = serializers.IntegerField(allow_null=True)
    actor = serializers.CharField()
    forced = serializers.BooleanField(help_text="Promoted to production although the quality gate refused.")
    override_reason = serializers.CharField(help_text="Why the gate was overridden (empty otherwise).")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class AliasSerializer(serializers.Serializer):
    model = serializers.CharField(source="model.name")
    alias = serializers.CharField()
    version = serializers.IntegerField(source="version.number")
    updated_at = serializers.DateTimeField()


def _model_or_404(name: str):
    model = model_get(name=name)
    if model is None:
        raise NotFound(f"There is no model named '{name}' in your workspace.")
    return model


def _version_or_404(name: str, number: int):
    version = model_version_get(model=_model_or_404(name), number=number)
    if version is None:
        raise NotFound(f"The model '{name}' has no version {number}.")
    return version


def _versions(model):
    return (
        model_version_list(model=model).select_related("dataset_version__dataset").prefetch_related("aliases")
    )


class ModelListApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="model_list",
        summary="List models",
        description="Your workspace's models by name, each with its task and where its aliases "
        "(production, staging) point. Scope: read.",
        responses=responses({200: ModelSerializer(many=True)}),
    )
    def get(self, request):
        return self.page(model_list(), ModelSerializer)


class ModelDetailApi(ApiView):
    required_scope = "read"

    class OutputSerializer(ModelSerializer):
        versions = ModelVersionSummarySerializer(many=True, source="version_summaries")
        alias_history = AliasChangeSerializer(
            many=True, source="history", help_text="Every promotion, rollback and removal, newest first."
        )

    @extend_schema(
        operation_id="model_retrieve",
        summary="Read a model",
        description="The model, its aliases and a summary of every version, newest first: its test "
        "score (with its confidence interval) beside the baseline's, how and on what it was trained, "
        "the runtime that serves it; and the alias history, with the reason for each override of the "
        "quality gate. Scope: read.",
        parameters=[MODEL_NAME],
        responses=responses({200: OutputSerializer}, {404: MODEL_404}),
    )
    def get(self, request, name: str):
        model = _model_or_404(name)
        model.version_summaries = _versions(model)
        model.history = alias_history(model=model)
        return Response(self.OutputSerializer(model).data)


class ModelVersionListApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="model_version_list",
        summary="List a model's versions",
        description="The model's versions, newest first, each with its test score beside the "
        "baseline's, the aliases pointing at it and how it was trained. Scope: read.",
        parameters=[MODEL_NAME],
        responses=responses({200: ModelVersionSummarySerializer(many=True)}, {404: MODEL_404}),
    )
    def get(self, request, name: str):
        return self.page(_versions(_model_or_404(name)), ModelVersionSummarySerializer)


class ModelVersionDetailApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="model_version_retrieve",
        summary="Read a model version",
        description="Everything about one version: its full evaluation on the dataset version's test "
        "split (headline, per-label figures, confusion matrix, the baseline, the test predictions), "
        "its lineage (dataset version and hash, base model, method, hyperparameters, library "
        "versions, training job) and its artifact's checksum. Scope: read.",
        parameters=[MODEL_NAME, VERSION_NUMBER],
        responses=responses({200: ModelVersionSerializer}, {404: VERSION_404}),
    )
    def get(self, request, name: str, n: int):
        return Response(ModelVersionSerializer(_version_or_404(name, n)).data)


class ModelVersionPromoteApi(ApiView):
    required_scope = "admin"  # promotion and rollback are admins' rights (tenants.permissions)

    class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        alias = serializers.ChoiceField(choices=ModelAlias.ALIASES, default="production")
        override_reason = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=2000,
            default="",
            help_text="Promote to production although the quality gate refuses, and say why: kept in the "
            "alias history and the audit log.",
        )
        note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")

    @extend_schema(
        operation_id="model_version_promote",
        summary="Promote a model version",
        description="Points an alias (`production` by default, or `staging`) at this version; "
        "predictions that name no version are served by production from the next request on. A "
        "production promotion must pass the quality gate: the version beats its own baseline on its "
        "test split by at least the platform's minimum lift, reaches the minimum score, and is no "
        "worse than the current production version by more than the allowed margin. An admin may "
        "override a refusal by giving `override_reason`. `staging` is not gated. Every move is "
        "recorded with who made it. Scope: admin.",
        parameters=[MODEL_NAME, VERSION_NUMBER],
        request=InputSerializer,
        responses=responses(
            {200: AliasSerializer},
            {
                404: VERSION_404,
                409: "quality_gate_failed: the version fails the production quality gate; `details` "
                "holds the figures (`metric`, `value`, `baseline`, `lift`, `min_lift`, `min_value`, "
                "`production_version`, `production_value`, `margin`) and `problems` in words. Send "
                "`override_reason` to promote it anyway.",
                **BODY_ERRORS,
            },
        ),
    )
    def post(self, request, name: str, n: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        alias = model_version_promote(
            version=_version_or_404(name, n),
            alias=data["alias"],
            override_reason=data["override_reason"],
            note=data["note"],
            actor=request.user.actor,
        )
        return Response(AliasSerializer(alias).data)


class ComparisonSideSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    headline = serializers.JSONField(allow_null=True, help_text='{"name": "accuracy", "value": 0.91}')
    confidence_interval = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="[low, high], or null for older versions."
    )
    method = serializers.CharField()
    dataset_hash = serializers.CharField()


class ComparisonRowSerializer(serializers.Serializer):
    label = serializers.CharField()
    a = serializers.FloatField(allow_null=True)
    b = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True)


class ComparisonNoiseSerializer(serializers.Serializer):
    method = serializers.CharField(
        allow_null=True,
        help_text="paired_bootstrap (both scored on the same test rows), interval_overlap (different "
        "rows: their 95% intervals compared) or null (an interval is missing).",
    )
    within_noise = serializers.BooleanField(allow_null=True)
    interval = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="The paired bootstrap's 95% interval of b minus a; null otherwise.",
    )
    says = serializers.CharField(allow_blank=True, help_text="The verdict in words.")


def _version_number_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        OpenApiParameter.QUERY,
        required=True,
        description=description,
    )


class ModelVersionCompareApi(ApiView):
    required_scope = "read"

    class QuerySerializer(serializers.Serializer):
        a = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        b = serializers.IntegerField(min_value=1, max_value=2**31 - 1)

    class OutputSerializer(serializers.Serializer):
        a = ComparisonSideSerializer()
        b = ComparisonSideSerializer()
        headline_delta = serializers.FloatField(allow_null=True, help_text="b's headline minus a's.")
        per_label = ComparisonRowSerializer(many=True, help_text="F1 per label (or entity type).")
        noise = ComparisonNoiseSerializer(
            help_text="Whether headline_delta is within noise, and how it is known."
        )

    @extend_schema(
        operation_id="model_version_compare",
        summary="Compare two versions",
        description="Versions `a` and `b` of one model side by side: headline scores with their 95% "
        "confidence intervals, the difference, F1 per label, and whether the difference is within "
        "noise (a paired bootstrap over the same test rows when both were scored on them, otherwise "
        "whether their intervals overlap). Scope: read.",
        parameters=[
            MODEL_NAME,
            _version_number_parameter("a", "The version compared against (e.g. production)."),
            _version_number_parameter("b", "The version compared (e.g. a new one)."),
        ],
        responses=responses({200: OutputSerializer}, {404: VERSION_404}),
    )
    def get(self, request, name: str):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        a = _version_or_404(name, query.validated_data["a"])
        b = _version_or_404(name, query.validated_data["b"])
        return Response(self.OutputSerializer(model_versions_compare(a=a, b=b)).data)


class ModelRollbackApi(ApiView):
    required_scope = "admin"  # promotion and rollback are admins' rights (tenants.permissions)

    class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        alias = serializers.ChoiceField(choices=ModelAlias.ALIASES, default="production")

    @extend_schema(
        operation_id="model_rollback",
        summary="Roll back an alias",
        description="Moves an alias (`production` by default) back to the version it pointed at "
        "before its latest promotion, skipping deleted versions. Recorded like a promotion. "
        "Scope: admin.",
        parameters=[MODEL_NAME],
        request=InputSerializer,
        responses=responses(
            {200: AliasSerializer},
            {
                404: MODEL_404,
                409: "nothing_to_roll_back or no_such_alias: the alias has no earlier version to go back "
                "to, or points at nothing.",
                **BODY_ERRORS,
            },
        ),
    )
    def post(self, request, name: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alias = model_rollback(
            model=_model_or_404(name), alias=serializer.validated_data["alias"], actor=request.user.actor
        )
        return Response(AliasSerializer(alias).data)
