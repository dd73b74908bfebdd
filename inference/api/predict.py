"""Predictions and feedback on them over the API."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from inference.selectors.feedback import feedback_list
from inference.services import serving
from inference.services.feedback import feedback_create

from .base import ApiView
from .fields import (
    RejectUnknownFieldsMixin,
    StorableJSONField,
    TextListField,
    TopKField,
    VersionRefField,
)
from .schema import BODY_ERRORS, MODEL_NAME, RETRY_AFTER_HEADER, responses


class ScoredLabelSerializer(serializers.Serializer):
    label = serializers.CharField()
    score = serializers.FloatField()


class EntitySerializer(serializers.Serializer):
    start = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="Character offset, inclusive."
    )
    end = serializers.IntegerField(min_value=0, max_value=2**31 - 1, help_text="Character offset, exclusive.")
    label = serializers.CharField(max_length=200)


class PredictedEntitySerializer(EntitySerializer):
    text = serializers.CharField(trim_whitespace=False)
    score = serializers.FloatField()


class PredictionSerializer(serializers.Serializer):
    """One input's answer: label/score/labels (classification), labels (multilabel) or entities."""

    label = serializers.CharField(required=False, help_text="Classification: the best label.")
    score = serializers.FloatField(required=False, help_text="Classification: its probability.")
    labels = ScoredLabelSerializer(
        many=True,
        required=False,
        help_text="Classification: the top_k labels; multilabel: labels over threshold.",
    )
    entities = PredictedEntitySerializer(many=True, required=False, help_text="Extraction: the spans found.")


class PredictApi(ApiView):
    required_scope = "predict"

    class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        inputs = TextListField(
            max_items=settings.SCALPEL_PREDICT_MAX_BATCH,
            max_text_length=settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH,
            help_text="Texts to answer, each a string. Over the limits: 413 payload_too_large naming them.",
        )
        version = VersionRefField(
            required=False, allow_null=True, help_text="Default: production, else the newest."
        )
        top_k = TopKField(required=False, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        model = serializers.CharField()
        version = serializers.IntegerField(help_text="The version that answered.")
        task = serializers.CharField()
        runtime = serializers.CharField()
        predictions = PredictionSerializer(many=True, help_text="One per input, in order.")

    @extend_schema(
        operation_id="model_predict",
        summary="Predict with a model",
        description="Answers each input with the model's production version (else its newest), or "
        "the version or alias you name: a label with its score and the `top_k` best labels "
        "(classification), the labels over the version's threshold (multi-label), or character spans "
        "(extraction). The answer names the version that served it. "
        f"At most {settings.SCALPEL_PREDICT_MAX_BATCH} inputs of at most "
        f"{settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH} characters each. Scope: predict.",
        parameters=[MODEL_NAME, RETRY_AFTER_HEADER],
        request=InputSerializer,
        responses=responses(
            {200: OutputSerializer},
            {
                404: "not_found: there is no model of that name, or it has no such version or alias.",
                409: "model_not_ready: the model has no trained version yet; wait for its training job.",
                413: "payload_too_large: too many inputs, a text too long, or a body over the limit; "
                "`details` names the limit.",
                415: None,
                503: None,
            },
        ),
    )
    def post(self, request, name: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = serving.predict(
            model_name=name,
            inputs=data["inputs"],
            version=data.get("version"),
            top_k=data.get("top_k"),
            api_key=request.auth.key,
            registry_generation=request.auth.registry_generation,
            actor=request.user.actor,
        )
        self.texts_served = len(data["inputs"])
        # ``result`` is built by the service in exactly the OutputSerializer's shape (the schema's
        # contract, tested); running it through the serializer again would cost more than the model.
        return Response(result)


class FeedbackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="model_name")
    model_version = serializers.IntegerField(allow_null=True)
    input = serializers.CharField(trim_whitespace=False)
    predicted = serializers.JSONField(allow_null=True)
    correct_label = serializers.CharField(allow_blank=True)
    correct_labels = serializers.ListField(child=serializers.CharField(), allow_null=True)
    correct_entities = EntitySerializer(many=True, allow_null=True)
    created_at = serializers.DateTimeField()
    applied = serializers.SerializerMethodField(help_text="Added to a dataset version yet.")

    @extend_schema_field(serializers.BooleanField())
    def get_applied(self, feedback) -> bool:
        return feedback.applied_to_id is not None


class FeedbackApi(ApiView):
    page_max = 500

    class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        model = serializers.CharField(max_length=100)
        input = serializers.CharField(trim_whitespace=False, max_length=settings.SCALPEL_MAX_TEXT_LENGTH)
        predicted = StorableJSONField(required=False, allow_null=True, help_text="What the model answered.")
        correct_label = serializers.CharField(required=False, max_length=200, help_text="Classification.")
        correct_labels = serializers.ListField(
            child=serializers.CharField(max_length=200), required=False, help_text="Multi-label."
        )
        correct_entities = EntitySerializer(many=True, required=False, help_text="Extraction.")
        model_version = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=2**31 - 1
        )

    class FilterSerializer(serializers.Serializer):
        model = serializers.CharField(required=False, max_length=100)
        pending = serializers.BooleanField(required=False, allow_null=True, default=None)

    def initial(self, request, *args, **kwargs):
        self.required_scope = "predict" if request.method == "POST" else "read"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="feedback_list",
        summary="List feedback",
        description="The corrections sent about predictions, newest first, optionally only those on "
        "one model, or only those not yet (or already) added to a dataset. Scope: read.",
        parameters=[
            OpenApiParameter("model", str, description="Only feedback on this model."),
            OpenApiParameter("pending", bool, description="true: not yet added to a dataset; false: added."),
        ],
        responses=responses({200: FeedbackSerializer(many=True)}),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = feedback_list(
            model_name=filters.validated_data.get("model"), pending=filters.validated_data["pending"]
        )
        return self.page(rows, FeedbackSerializer)

    @extend_schema(
        operation_id="feedback_create",
        summary="Correct a prediction",
        description="Records what a prediction should have been, in the field the model's task takes "
        "(`correct_label`, `correct_labels` or `correct_entities`); labels the model does not know "
        "are refused. Corrections wait, pending, until someone adds them to a dataset version from "
        "the dashboard. Scope: predict.",
        request=InputSerializer,
        responses=responses(
            {201: FeedbackSerializer},
            {404: "not_found: there is no model of that name, or it has no such version.", **BODY_ERRORS},
        ),
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        feedback = feedback_create(
            model_name=data["model"],
            text=data["input"],
            predicted=data.get("predicted"),
            correct_label=data.get("correct_label"),
            correct_labels=data.get("correct_labels"),
            correct_entities=[dict(e) for e in data["correct_entities"]]
            if "correct_entities" in data
            else None,
            model_version=data.get("model_version"),
            api_key_prefix=request.auth.key.prefix,
        )
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)
