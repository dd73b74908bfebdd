"""Training jobs over the API: start, list, read (progress, events, result), cancel."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.exceptions import NotFound
from inference.engine.holdout import CARVE_RATIO, EVALUATE_ON, MIN_CARVED_TEST, MIN_TRAIN_PER_LABEL
from inference.engine.training.plan import METHODS
from inference.selectors.training import training_job_events, training_job_get, training_job_list
from inference.services.training import training_job_cancel, training_job_start

from .base import ApiView
from .fields import RejectUnknownFieldsMixin, StorableObjectField
from .schema import BODY_ERRORS, JOB_ID, responses

CARVE_PERCENT = round(CARVE_RATIO * 100)
JOB_NOT_FOUND = "not_found: there is no training job with this id in your workspace."


class TrainingJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed", "cancelled"])
    dataset = serializers.CharField(source="dataset_version.dataset.name")
    dataset_version = serializers.IntegerField(source="dataset_version.number")
    model = serializers.CharField(source="model_name")
    base_model = serializers.CharField(source="base_model_id")
    method = serializers.CharField(help_text="As requested: auto, full, lora, head or fewshot.")
    resolved_method = serializers.CharField(allow_blank=True, help_text="The method the worker chose.")
    method_reason = serializers.CharField(allow_blank=True)
    hyperparameters = serializers.JSONField(help_text="As requested.")
    evaluate_on = serializers.CharField(help_text="As requested: auto, test, carved or validation.")
    evaluation = serializers.JSONField(
        source="evaluation_plan",
        help_text="The test set the job is judged on, fixed when it was created: `test_source` "
        "(test, carved or validation), `test_size`, `train_size`, `validation_size`, `seed` and "
        "`statement`, a sentence saying so.",
    )
    resolved_hyperparameters = serializers.JSONField(help_text="Every hyperparameter the run uses.")
    progress = serializers.JSONField(help_text="phase, epoch, step, loss, ... as the worker last reported.")
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    error_code = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    model_version = serializers.IntegerField(
        source="model_version.number",
        allow_null=True,
        help_text="The version this job produced, once succeeded.",
    )


class TrainingJobDetailSerializer(TrainingJobSerializer):
    class EventSerializer(serializers.Serializer):
        created_at = serializers.DateTimeField()
        level = serializers.CharField()
        message = serializers.CharField()

    events = EventSerializer(many=True, source="event_list")


def _job_or_404(job_id: int):
    job = training_job_get(job_id=job_id)
    if job is None:
        raise NotFound(f"There is no training job {job_id} in your workspace.")
    return job


def _detail(job) -> dict:
    job.event_list = list(training_job_events(job=job))
    return TrainingJobDetailSerializer(job).data


class TrainingJobListApi(ApiView):
    page_max = 200

    class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        dataset = serializers.CharField(max_length=100)
        dataset_version = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=2**31 - 1,
            help_text="Default: the latest.",
        )
        model = serializers.CharField(
            max_length=100, help_text="Name of the model the job adds a version to."
        )
        base_model = serializers.CharField(default="minilm-l6", max_length=64)
        method = serializers.ChoiceField(choices=["auto", *METHODS], default="auto")
        hyperparameters = StorableObjectField(
            default=dict, help_text='e.g. {"epochs": 3, "learning_rate": 5e-5}'
        )
        time_budget_seconds = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=2**31 - 1
        )
        evaluate_on = serializers.ChoiceField(
            choices=list(EVALUATE_ON),
            default="auto",
            help_text="Which rows judge the model. `auto` (default): the version's test split, or, when "
            "it has none, `carved`. `test`: the version's test split. `carved`: a test set held out "
            f"from the training rows ({CARVE_PERCENT}%, at least {MIN_CARVED_TEST} examples and one per "
            "label; seeded by the version's split seed, stratified by label, near-duplicate texts on "
            "one side), which the model does not train on. `validation`: the validation split, which "
            "also decides when training stops, so its figures may be slightly optimistic.",
        )

    def initial(self, request, *args, **kwargs):
        # One URL, two operations: reading jobs needs `read`, starting one needs `train`.
        self.required_scope = "train" if request.method == "POST" else "read"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="training_job_list",
        summary="List training jobs",
        description="Your workspace's training jobs, newest first, with their status and last reported "
        "progress; page through them with `limit` and `offset`. Scope: read.",
        responses=responses({200: TrainingJobSerializer(many=True)}),
    )
    def get(self, request):
        return self.page(training_job_list().order_by("-created_at", "-pk"), TrainingJobSerializer)

    @extend_schema(
        operation_id="training_job_create",
        summary="Start a training job",
        description="Fine-tunes a base model on a version of one of your datasets (the latest unless "
        "you name one) and adds the result to `model` as its next version. Every check (the dataset "
        "can be trained on, the method and hyperparameters, the base model, the time budget, your "
        "plan's quotas, enough rows to evaluate on) runs now, before the job is queued; then poll the "
        "job until its status is `succeeded`, `failed` or `cancelled`.\n\n"
        "The model is judged on the rows `evaluate_on` names. A version without test rows is normal: "
        "by default a seeded, stratified test set is then held out from its training rows "
        f"({CARVE_PERCENT}% of them, at least {MIN_CARVED_TEST} examples, or sentences for "
        f"extraction, and at least one per label, each label keeping {MIN_TRAIN_PER_LABEL} to learn "
        "from); the job's `evaluation` and the version's evaluation (`test_source`, "
        "`test_statement`) say which rows were used. Too few rows to hold one out is refused with "
        "400 `not_enough_examples_to_evaluate`, whose `details.needed` gives the numbers. Scope: train.",
        request=InputSerializer,
        responses=responses(
            {201: TrainingJobDetailSerializer},
            {
                404: "not_found: there is no dataset, or no dataset version, of that name or number.",
                409: "base_model_unavailable: the base model's files cannot be loaded right now.",
                429: "rate_limited, or quota_exceeded: your plan's concurrent or daily training jobs are "
                "used up (`details.quota`). Retry after the seconds in the Retry-After header.",
                **BODY_ERRORS,
            },
        ),
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = training_job_start(
            dataset=data["dataset"],
            dataset_version=data.get("dataset_version"),
            model_name=data["model"],
            base_model_id=data["base_model"],
            method=data["method"],
            hyperparameters=data["hyperparameters"],
            time_budget_seconds=data.get("time_budget_seconds"),
            evaluate_on=data["evaluate_on"],
            actor=request.user.actor,
        )
        return Response(_detail(_job_or_404(job.pk)), status=status.HTTP_201_CREATED)


class TrainingJobDetailApi(ApiView):
    required_scope = "read"

    @extend_schema(
        operation_id="training_job_retrieve",
        summary="Read a training job",
        description="The job's status, its progress (phase, epoch, step, loss, validation score, ETA) "
        "as the worker last reported it, the method it chose and why, its events in order, and once "
        "it succeeded the model version it produced. Scope: read.",
        parameters=[JOB_ID],
        responses=responses({200: TrainingJobDetailSerializer}, {404: JOB_NOT_FOUND}),
    )
    def get(self, request, id: int):  # noqa: A002 - the URL's parameter name is part of the contract
        return Response(_detail(_job_or_404(id)))


class TrainingJobCancelApi(ApiView):
    required_scope = "train"

    @extend_schema(
        operation_id="training_job_cancel",
        summary="Cancel a training job",
        description="A queued job is cancelled at once; a running one stops at its next step, within "
        "seconds, and registers no version. Scope: train.",
        parameters=[JOB_ID],
        request=None,
        responses=responses(
            {200: TrainingJobDetailSerializer},
            {404: JOB_NOT_FOUND, 409: "conflict: the job has already ended; there is nothing to cancel."},
        ),
    )
    def post(self, request, id: int):  # noqa: A002
        job = training_job_cancel(job=_job_or_404(id), actor=request.user.actor)
        return Response(_detail(job))
