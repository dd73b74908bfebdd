"""The review queue: logged production predictions for people to confirm or fix, the most useful first.

A model logs its predictions when ``Model.prediction_logging`` is on (or the workspace logs all).
The queue holds the logged predictions nobody has reviewed yet. Those whose labels help most come
first (active learning): where two versions of the model answer differently, then the least
confident. Confirming or fixing one makes a correction (``Feedback``, source ``review``) that can be
added to a new dataset version as training rows; skipping only takes it off the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from core.exceptions import ApplicationError, NotFound
from inference.models import Model, ModelVersion, PredictionLog
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check

from .feedback import feedback_create
from .monitoring import answer_summary
from .runtime_cache import runtime_cache

CANDIDATES = 200  # the least confident logged predictions looked at for disagreement


@dataclass
class ReviewItem:
    log: PredictionLog
    label: str  # the logged answer, as a label ("" for none)
    confidence: float | None
    other_version: int | None
    other_label: str | None  # what the other version answers, when it differs

    @property
    def disagreement(self) -> bool:
        return self.other_label is not None


def _label_of(output: dict) -> str:
    labels = answer_summary(output)[1]
    return ", ".join(labels)


def _other_version(model: Model, serving: int | None) -> ModelVersion | None:
    """The version to compare with: staging, else the newest one that is not the logged one."""
    versions = model.versions.exclude(number=serving) if serving is not None else model.versions.all()
    return versions.filter(aliases__alias="staging").first() or versions.order_by("-number").first()


def review_queue(*, model: Model, limit: int = 20) -> list[ReviewItem]:
    """The next predictions to review, most useful first (disagreements, then least confident)."""
    logs = list(
        PredictionLog.objects.filter(model_name=model.name, reviewed_at__isnull=True).order_by("-created_at")[
            : CANDIDATES * 5
        ]
    )
    items = [
        ReviewItem(log, _label_of(log.output), answer_summary(log.output)[0], None, None)
        for log in logs
        if isinstance(log.output, dict)
    ]
    items.sort(key=lambda i: i.confidence if i.confidence is not None else 1.0)
    items = items[:CANDIDATES]
    if model.task == "classification" and items:
        serving = items[0].log.model_version
        other = _other_version(model, serving)
        if other is not None and items:
            answers = (
                runtime_cache()
                .get(schema=connection.schema_name, version=other)
                .predict([i.log.input for i in items])
            )
            for item, answer in zip(items, answers, strict=True):
                if item.log.model_version != other.number and answer.get("label") != item.label:
                    item.other_version, item.other_label = other.number, answer.get("label")
    items.sort(key=lambda i: (not i.disagreement, i.confidence if i.confidence is not None else 1.0))
    return items[:limit]


def review_decide(
    *,
    log: PredictionLog,
    label: str | None = None,
    labels: list[str] | None = None,
    entities: list[dict] | None = None,
    new_label: bool = False,
    actor: Actor | str = "",
):
    """Confirm (nothing given: the logged answer is right) or fix a logged prediction; returns the
    correction it makes, which waits in the feedback inbox to be added to a dataset."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="predict")
    model = Model.objects.filter(name=log.model_name).first()
    if model is None:
        raise NotFound(f"The model '{log.model_name}' no longer exists.")
    with transaction.atomic():
        log = PredictionLog.objects.select_for_update().get(pk=log.pk)
        if log.reviewed_at is not None:
            raise ApplicationError("Someone reviewed this prediction already.", code="already_reviewed")
        output = log.output if isinstance(log.output, dict) else {}
        if model.task == "classification":
            label = label or output.get("label")
            fields = {"correct_label": label}
        elif model.task == "multilabel":
            fields = {
                "correct_labels": labels
                if labels is not None
                else [x["label"] for x in output.get("labels", [])]
            }
        else:
            chosen = entities if entities is not None else output.get("entities", [])
            fields = {"correct_entities": [{k: e[k] for k in ("start", "end", "label")} for e in chosen]}
        feedback = feedback_create(
            model_name=model.name, text=log.input, predicted=output, model_version=log.model_version,
            source="review", new_label=new_label, actor=actor, **fields,
        )  # fmt: skip
        log.reviewed_at = timezone.now()
        log.save(update_fields=["reviewed_at"])
    return feedback


def review_skip(*, log: PredictionLog, actor: Actor | str = "") -> None:
    permission_check(actor=as_actor(actor), action="predict")
    PredictionLog.objects.filter(pk=log.pk, reviewed_at__isnull=True).update(reviewed_at=timezone.now())


def prediction_logging_set(
    *, model: Model, enabled: bool, retention_days: int, actor: Actor | str = ""
) -> Model:
    permission_check(actor=as_actor(actor), action="model.promote")
    if not 1 <= retention_days <= 3650:
        raise ApplicationError(
            "Keep logged predictions between 1 and 3650 days.",
            code="validation_failed",
            field="retention_days",
        )
    model.prediction_logging, model.prediction_log_retention_days = enabled, retention_days
    model.save(update_fields=["prediction_logging", "prediction_log_retention_days"])
    return model
