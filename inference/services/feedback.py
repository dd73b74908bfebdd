"""Corrections clients send about predictions, and turning them into training rows."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, NotFound
from inference.engine.types import Example, Span
from inference.models import DatasetVersion, Feedback, Model, ModelVersion
from inference.selectors.datasets import dataset_get, dataset_version_get
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

from .datasets import dataset_version_append

# Which correction field each task takes.
CORRECTION_FIELD = {
    "classification": "correct_label",
    "multilabel": "correct_labels",
    "extraction": "correct_entities",
}


def feedback_create(
    *,
    model_name: str,
    text: str,
    predicted: Any = None,
    correct_label: str | None = None,
    correct_labels: list[str] | None = None,
    correct_entities: list[dict] | None = None,
    model_version: int | None = None,
    api_key_prefix: str = "",
    source: str = "api",
    new_label: bool = False,
    actor: Actor | str | None = None,
) -> Feedback:
    """Store a correction of one prediction; it waits (pending) until applied to a dataset.

    ``new_label``: its author confirmed that a label the model does not know yet is meant (it becomes a
    new label of the dataset when the correction is added to it)."""
    if actor is not None:
        permission_check(actor=as_actor(actor), action="predict")
    model = Model.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"There is no model named '{model_name}' in your workspace.")
    if model_version is not None and not model.versions.filter(number=model_version).exists():
        raise NotFound(f"The model '{model_name}' has no version {model_version}.")
    if not text:
        raise ApplicationError(
            'Send the "input" text the prediction was made for.', details={"input": "required"}
        )
    given = {
        "correct_label": correct_label not in (None, ""),
        "correct_labels": correct_labels is not None,
        "correct_entities": correct_entities is not None,
    }
    expected = CORRECTION_FIELD[model.task]
    wrong = sorted(name for name, present in given.items() if present and name != expected)
    if wrong or not given[expected]:
        raise ApplicationError(
            f"'{model_name}' is a {model.task} model: send the correction as \"{expected}\""
            + (f" (not {', '.join(wrong)})." if wrong else "."),
            details={"expected": expected},
        )
    entities = _checked_entities(correct_entities, text) if expected == "correct_entities" else None
    corrected = {
        "correct_label": [correct_label],
        "correct_labels": correct_labels or [],
        "correct_entities": [e["label"] for e in entities or []],
    }[expected]
    if not new_label:
        _check_known_labels(model, model_version, expected, corrected)
    return Feedback.objects.create(
        model_name=model.name,
        model_version=model_version,
        input=text,
        predicted=predicted,
        correct_label=correct_label or "",
        correct_labels=sorted(set(correct_labels)) if correct_labels is not None else None,
        correct_entities=entities,
        api_key_prefix=api_key_prefix,
        source=source,
        new_label=new_label,
        created_by=str(as_actor(actor)) if actor is not None else "",
    )


def feedback_dismiss(*, feedback: Feedback, actor: Actor | str = "") -> Feedback:
    """Set a pending correction aside: it leaves the inbox and is never added, until restored."""
    permission_check(actor=as_actor(actor), action="predict")
    if feedback.applied_to_id is not None:
        raise ApplicationError(
            "This correction was already added to a dataset version.", code="feedback_applied"
        )
    feedback.dismissed_at = timezone.now()
    feedback.save(update_fields=["dismissed_at"])
    return feedback


def feedback_restore(*, feedback: Feedback, actor: Actor | str = "") -> Feedback:
    """Undo a dismissal: the correction is pending again."""
    permission_check(actor=as_actor(actor), action="predict")
    feedback.dismissed_at = None
    feedback.save(update_fields=["dismissed_at"])
    return feedback


MAX_LABELS_IN_MESSAGE = 20


def _check_known_labels(model: Model, model_version: int | None, field: str, labels: list[str]) -> None:
    """Refuse a correction naming a label the model does not have: it could never be trained on."""
    versions = model.versions.all()
    if model_version is not None:
        versions = versions.filter(number=model_version)
    known: set[str] = set()
    for version_labels in versions.values_list("labels", flat=True):
        known.update(version_labels or [])
    if model.task == "extraction":  # entity types, whether stored as types or as B-/I- tags
        known = {lab[2:] if lab[:2] in ("B-", "I-") else lab for lab in known} - {"O"}
    if not known:
        return  # no trained version yet: nothing to check against
    unknown = sorted(set(labels) - known)
    if unknown:
        which = f"v{model_version} of '{model.name}'" if model_version is not None else f"'{model.name}'"
        listed = sorted(known)
        shown = ", ".join(listed[:MAX_LABELS_IN_MESSAGE]) + (
            " ..." if len(listed) > MAX_LABELS_IN_MESSAGE else ""
        )
        raise ApplicationError(
            f"{', '.join(repr(lab) for lab in unknown)} {'is not a label' if len(unknown) == 1 else 'are not labels'} "
            f"of {which}. Its labels: {shown}.",
            details={field: {"unknown_labels": unknown, "labels": listed}},
        )


def _checked_entities(entities: list[dict], text: str) -> list[dict]:
    checked = []
    for i, entity in enumerate(entities):
        start, end, label = entity.get("start"), entity.get("end"), entity.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise ApplicationError(
                f"correct_entities[{i}] must have 0 <= start < end <= {len(text)} (the input's length).",
                details={"index": i},
            )
        if not isinstance(label, str) or not label:
            raise ApplicationError(f"correct_entities[{i}] needs a label.", details={"index": i})
        checked.append({"start": start, "end": end, "label": label})
    return sorted(checked, key=lambda e: (e["start"], e["end"], e["label"]))


def feedback_apply(
    *, feedback_ids: list[int] | None, dataset_name: str, actor: Actor | str = ""
) -> DatasetVersion:
    """Add pending feedback as training rows of a new version of ``dataset_name``; marks it applied.

    Without ids, takes every pending correction of the models trained on this dataset.
    """
    actor = as_actor(actor)
    permission_check(actor=actor, action="feedback.apply")
    dataset = dataset_get(name=dataset_name)
    if dataset is None:
        raise NotFound(f"There is no dataset named '{dataset_name}' in your workspace.")
    with transaction.atomic():
        pending = (
            Feedback.objects.select_for_update()
            .filter(applied_to__isnull=True, dismissed_at__isnull=True)
            .order_by("pk")
        )
        if feedback_ids is not None:
            rows = list(pending.filter(pk__in=feedback_ids))
            missing = sorted(set(feedback_ids) - {row.pk for row in rows})
            if missing:
                raise NotFound(
                    f"Feedback {', '.join(map(str, missing))} does not exist or was already applied.",
                    details={"feedback_ids": missing},
                )
        else:
            trained_on = ModelVersion.objects.filter(dataset_version__dataset=dataset).values("model__name")
            rows = list(pending.filter(model_name__in=trained_on))
        if not rows:
            raise ApplicationError(
                f"There is no pending feedback to add to '{dataset.name}'.", code="no_feedback"
            )
        examples = _examples(rows, dataset=dataset)
        version = dataset_version_append(
            dataset=dataset, examples=examples, source_kind="feedback", actor=str(actor)
        )
        audit_record(action="feedback.applied", actor=actor, obj=version, details={"corrections": len(rows)})
        Feedback.objects.filter(pk__in=[row.pk for row in rows]).update(applied_to=version)
    return version


def _examples(rows: list[Feedback], *, dataset) -> list[Example]:
    """Feedback as training rows; every label must be one the dataset already has."""
    latest = dataset_version_get(dataset=dataset)
    known = set(dataset.label_set or []) | set(latest.labels if latest else [])
    tasks = dict(Model.objects.filter(name__in={row.model_name for row in rows}).values_list("name", "task"))
    problems, examples = [], []
    for row in rows:
        if tasks.get(row.model_name) != dataset.task:
            problems.append(
                {
                    "feedback_id": row.pk,
                    "message": f"it is about '{row.model_name}', not a {dataset.task} model",
                }
            )
            continue
        if dataset.task == "classification":
            labels = [row.correct_label]
            example = Example(text=row.input, label=row.correct_label, split="train")
        elif dataset.task == "multilabel":
            labels = list(row.correct_labels or [])
            example = Example(text=row.input, labels=labels, split="train")
        else:
            labels = [e["label"] for e in row.correct_entities or []]
            spans = [Span(e["start"], e["end"], e["label"]) for e in row.correct_entities or []]
            example = Example(text=row.input, entities=spans, split="train")
        unknown = sorted(set(labels) - known)
        if unknown and row.new_label and not dataset.label_set:
            unknown = []  # confirmed by its author as a new label; the dataset declares none
        if unknown:
            problems.append(
                {
                    "feedback_id": row.pk,
                    "message": f"label(s) {', '.join(unknown)} are not in the dataset "
                    f"(its labels: {', '.join(sorted(known))})",
                }
            )
            continue
        examples.append(example)
    if problems:
        listed = "; ".join(f"feedback {p['feedback_id']}: {p['message']}" for p in problems[:5])
        raise ApplicationError(
            f"Nothing was added to '{dataset.name}': {listed}. Fix or exclude that feedback and try again.",
            details={"problems": problems},
        )
    return examples
