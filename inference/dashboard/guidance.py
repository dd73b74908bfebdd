"""The overview's "what do I do next?": the few steps that would improve the workspace most, in order."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode

from inference.insights import weak_labels
from inference.models import Feedback, ModelVersion, TrainingJob
from inference.selectors.datasets import dataset_list
from inference.selectors.registry import model_aliases, model_list
from tenants.selectors import api_key_list


@dataclass
class Step:
    title: str
    detail: str
    url: str
    action: str
    tone: str = "todo"  # todo | wait | done


def next_steps(*, tenant, limit: int = 4) -> list[Step]:
    """Steps in the order a business user should take them; at least one, never more than ``limit``."""
    steps: list[Step] = []
    datasets = list(dataset_list())
    if not datasets:
        return [
            Step(
                "Upload your labelled examples",
                "Start with a CSV file: one column with the text, one with its label. "
                "A few dozen examples per label is enough for a first model.",
                reverse("dashboard-dataset-upload"),
                "Upload a CSV",
            )
        ]
    for ds in datasets:
        latest = ds.latest_version
        if latest is not None and not latest.trainable:
            steps.append(
                Step(
                    f"Fix the problems in “{ds.name}”",
                    f"Version {latest.number} cannot be trained on yet. The data page lists each problem and how to fix it.",
                    reverse("dashboard-dataset", args=[ds.name]),
                    "See the problems",
                )
            )
    running = TrainingJob.objects.filter(status__in=TrainingJob.ACTIVE).order_by("-created_at")
    for job in running[:2]:
        steps.append(
            Step(
                f"Training “{job.model_name}” is under way",
                "You can leave this page; the model appears under Models when it is done.",
                reverse("dashboard-job", args=[job.pk]),
                "Watch progress",
                tone="wait",
            )
        )
    models = list(model_list())
    if not models and not running.exists():
        trainable = next((d for d in datasets if d.latest_version and d.latest_version.trainable), None)
        if trainable:
            steps.append(
                Step(
                    f"Train your first model on “{trainable.name}”",
                    "One click with sensible defaults; it takes a few minutes.",
                    reverse("dashboard-training") + "?" + urlencode({"dataset": trainable.name}),
                    "Train a model",
                )
            )
    for model in models:
        steps.extend(_model_steps(model))
    pending = Feedback.objects.filter(applied_to__isnull=True).count()
    if pending:
        steps.append(
            Step(
                f"{pending} correction{'s' if pending != 1 else ''} arrived through the API",
                "Add them to your data as a new version and retrain, so the model learns from its mistakes.",
                reverse("dashboard-feedback"),
                "Review corrections",
            )
        )
    has_production = any("production" in model_aliases(model=m) for m in models)
    if has_production and not any(k.is_active for k in api_key_list(tenant=tenant)):
        steps.append(
            Step(
                "Connect your systems",
                "Create an API key to send texts to your production model from your own software.",
                reverse("dashboard-api-keys"),
                "Create an API key",
            )
        )
    if not steps:
        steps.append(
            Step(
                "Everything is in order",
                "Your production models are healthy. Try them on new texts in the playground.",
                reverse("dashboard-playground"),
                "Open the playground",
                tone="done",
            )
        )
    return steps[:limit]


def _model_steps(model) -> list[Step]:
    aliases = model_aliases(model=model)
    latest = model.versions.order_by("-number").select_related("dataset_version__dataset").first()
    if latest is None:
        return []
    production_number = aliases.get("production")
    if production_number is None:
        return [
            Step(
                f"Review “{model.name}” v{latest.number} and put it in production",
                _score_sentence(latest) + " Check where it is weak, then promote it so the API uses it.",
                reverse("dashboard-model-version", args=[model.name, latest.number]),
                "Review the model",
            )
        ]
    steps = []
    production = (
        model.versions.filter(number=production_number).select_related("dataset_version__dataset").first()
    )
    if latest.number > production_number and _better(latest, production):
        steps.append(
            Step(
                f"v{latest.number} of “{model.name}” beats production v{production_number}",
                f"{latest.headline_metric} {latest.headline_value:.3f} against {production.headline_value:.3f}.",
                reverse("dashboard-model-promote", args=[model.name, latest.number]),
                "Review and promote",
            )
        )
    weak = weak_labels(production, limit=3)
    if weak:
        names = ", ".join(
            f"{w.label} (F1 {w.f1:.2f}"
            + (f", {w.train_examples} examples)" if w.train_examples is not None else ")")
            for w in weak
        )
        dataset = production.dataset_version.dataset.name
        steps.append(
            Step(
                f"Upload more examples for {'this weak label' if len(weak) == 1 else f'these {len(weak)} weak labels'}",
                f"“{model.name}” is least reliable on {names}. Add examples of them to “{dataset}” and retrain.",
                reverse("dashboard-dataset-upload") + "?" + urlencode({"dataset": dataset}),
                "Add examples",
            )
        )
    return steps


def _better(a: ModelVersion, b: ModelVersion | None) -> bool:
    return (
        b is not None
        and a.headline_value is not None
        and (b.headline_value is None or a.headline_value > b.headline_value)
    )


def _score_sentence(v: ModelVersion) -> str:
    if v.headline_value is None:
        return "It has no evaluation yet."
    text = f"Its {v.headline_metric} on held-out examples is {v.headline_value:.3f}"
    if v.baseline_value is not None:
        text += f" (a simple baseline gets {v.baseline_value:.3f})"
    return text + "."
