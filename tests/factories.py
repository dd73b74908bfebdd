"""Rows of a tenant's schema built with factory_boy straight through the ORM (no upload, no training),
plus API keys and the small bundles several test folders share.

Call a factory inside the tenant's schema (``schema_context``, ``tenant_context`` or
``connection.set_tenant``): the rows go wherever the connection points. Every field a test does not
name gets a plain valid value; a model version made without a dataset version gets an empty one.
Model versions made here have no artifact files: a real one needs a training run.
"""

from __future__ import annotations

from dataclasses import dataclass

import factory
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context
from factory.django import DjangoModelFactory

from inference.models import (
    AliasChange,
    Dataset,
    DatasetVersion,
    Example,
    Feedback,
    Model,
    ModelAlias,
    ModelVersion,
    TrainingJob,
)
from inference.services.datasets import dataset_upload
from tenants.models import ApiKey
from tenants.services import api_key_create


class DatasetFactory(DjangoModelFactory):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")
    task = "classification"


class DatasetVersionFactory(DjangoModelFactory):
    """A dataset version with no examples (what jobs and model versions point at)."""

    class Meta:
        model = DatasetVersion

    dataset = factory.SubFactory(DatasetFactory)
    number = 1
    content_hash = "0" * 64


class ModelFactory(DjangoModelFactory):
    class Meta:
        model = Model

    name = factory.Sequence(lambda n: f"model-{n}")
    task = "classification"


class ModelVersionFactory(DjangoModelFactory):
    """A registered version whose evaluation headline is ``headline_value`` (accuracy)."""

    class Meta:
        model = ModelVersion

    model = factory.SubFactory(ModelFactory)
    number = 1
    dataset_version = factory.SubFactory(DatasetVersionFactory)
    artifact_path = factory.LazyAttribute(lambda v: f"nowhere/v{v.number}")
    artifact_checksum = "0" * 64
    labels = factory.LazyAttribute(lambda v: list(v.dataset_version.labels))
    headline_metric = "accuracy"
    headline_value = 0.9
    baseline_value = 0.5  # beats its baseline, as the promotion gate wants
    metrics = factory.LazyAttribute(
        lambda v: {"headline": {"name": v.headline_metric, "value": v.headline_value}, "per_label": {}}
    )
    dataset_hash = factory.LazyAttribute(lambda v: v.dataset_version.content_hash)
    base_model_id = "minilm-l6"
    method = "head"


class TrainingJobFactory(DjangoModelFactory):
    """A queued job (no worker runs it unless the test starts one)."""

    class Meta:
        model = TrainingJob

    dataset_version = factory.SubFactory(DatasetVersionFactory)
    model_name = factory.Sequence(lambda n: f"model-{n}")
    base_model_id = "minilm-l6"


class FeedbackFactory(DjangoModelFactory):
    class Meta:
        model = Feedback

    model_name = "sentiment"
    input = "so good"
    correct_label = "pos"


# ---- API keys -------------------------------------------------------------------------------------

# Every scope; "admin" (promotion, rollback) also holds all the others.
ALL_SCOPES = ["predict", "data", "train", "read", "admin"]


def raw_key(tenant, scopes=None, **kwargs) -> str:
    _, raw = api_key_create(tenant=tenant, name="test", scopes=scopes or ALL_SCOPES, **kwargs)
    return raw


def key_of(raw: str) -> ApiKey:
    return ApiKey.objects.get(prefix=raw.split("_")[1])


# ---- a dataset with examples, and a tenant with one of everything -------------------------------

ROWS = [("great service", "pos"), ("awful wait", "neg"), ("lovely staff", "pos"), ("rude reply", "neg")]


def dataset_with_version(name: str, *, rows=ROWS, task: str = "classification") -> DatasetVersion:
    """A dataset with one version in the current schema; every row in train except one per split."""
    splits = ["train", "validation", "test"] + ["train"] * max(0, len(rows) - 3)
    version = DatasetVersionFactory(
        dataset__name=name,
        dataset__task=task,
        row_count=len(rows),
        split_counts={s: splits.count(s) for s in ("train", "validation", "test")},
        label_counts={},
        labels=sorted({label for _, label in rows}),
        split_config={"ratios": [0.8, 0.1, 0.1], "seed": 13},
        report={"findings": [], "warnings": []},
    )
    Example.objects.bulk_create(
        Example(version=version, index=i, text=text, label=label, split=split)
        for i, ((text, label), split) in enumerate(zip(rows, splits, strict=False))
    )
    return version


def model_version(
    model: Model,
    number: int,
    dataset_version: DatasetVersion,
    value: float = 0.9,
    baseline: float | None = 0.5,
) -> ModelVersion:
    return ModelVersionFactory(
        model=model, number=number, dataset_version=dataset_version, headline_value=value, baseline_value=baseline
    )


def tenant_model_version(
    model: Model, number: int, value: float = 0.9, *, baseline: float | None = 0.5
) -> ModelVersion:
    """Version ``number`` of ``model`` with its artifact path under the current tenant's storage prefix,
    as the registry writes it (the registry deletes no files outside that prefix)."""
    return ModelVersionFactory(
        model=model,
        number=number,
        headline_value=value,
        baseline_value=baseline,
        artifact_path=f"tenants/{connection.tenant.pk}/models/{model.name}/v{number}",
    )


@dataclass
class TenantObjects:
    dataset: str
    model: str
    empty_model: str
    job_id: int
    feedback_id: int


def tenant_objects(tenant, prefix: str) -> TenantObjects:
    """A dataset, a queued job, a model with two versions (production v2, rolled from v1), feedback."""
    with schema_context(tenant.schema_name):
        version = dataset_with_version(f"{prefix}-reviews")
        job = TrainingJobFactory(dataset_version=version, model_name=f"{prefix}-sentiment")
        model = ModelFactory(name=f"{prefix}-sentiment")
        model_version(model, 1, version)
        v2 = model_version(model, 2, version)
        ModelAlias.objects.create(model=model, alias="production", version=v2)
        AliasChange.objects.create(
            model=model, alias="production", from_version=1, to_version=2, action="promote"
        )
        empty = ModelFactory(name=f"{prefix}-untrained")
        feedback = FeedbackFactory(model_name=model.name, input="so good", correct_label="pos")
        return TenantObjects(
            dataset=version.dataset.name,
            model=model.name,
            empty_model=empty.name,
            job_id=job.pk,
            feedback_id=feedback.pk,
        )


# ---- a banking dataset uploaded through the service, and what the dashboard shows of it ----------

LABELS = ["card_arrival", "change_pin", "lost_card"]
TEXTS = {
    "card_arrival": ["Where is my new card?", "My card has not arrived yet", "When will the card come?",
                     "Card still not delivered", "How long does card delivery take?", "Still waiting on my card",
                     "Has my card been sent?", "Card delivery status please", "no card in the post yet",
                     "When does my card arrive"],
    "change_pin": ["How do I change my PIN?", "I want a new PIN", "Can I reset my PIN?", "Change PIN number",
                   "Where do I update my PIN", "PIN change please", "forgot pin want to change it",
                   "Set a different PIN", "How to pick a new PIN", "Modify my card PIN"],
    "lost_card": ["I lost my card", "My card was stolen", "Cannot find my card anywhere", "Card missing",
                  "Someone took my card", "I think I dropped my card", "Lost card what now",
                  "My wallet with the card is gone", "Block my lost card", "Report a lost card"],
}  # fmt: skip


def csv_bytes(rows_per_label: int = 10, labels=LABELS) -> bytes:
    lines = ["text,category"]
    for label in labels:
        for text in TEXTS[label][:rows_per_label]:
            lines.append(f'"{text}",{label}')
    return ("\n".join(lines) + "\n").encode()


def make_dataset(tenant, name: str = "support"):
    """A dataset version uploaded through the same service the pages call."""
    with tenant_context(tenant):
        return dataset_upload(
            name=name, file=csv_bytes(), filename=f"{name}.csv", task="classification",
            text_column="text", label_column="category", actor="factory",
        )  # fmt: skip


def evaluation_metrics(accuracy: float, labels=LABELS, weak: str | None = None) -> dict:
    """A full classification evaluation, as training stores it; ``weak`` is one poorly recalled label."""
    per_label = {
        label: {"precision": accuracy, "recall": accuracy, "f1": accuracy, "support": 4} for label in labels
    }
    if weak:
        per_label[weak] = {"precision": 0.5, "recall": 0.25, "f1": 0.33, "support": 4}
    n = len(labels)
    matrix = [[3 if i == j else 0 for j in range(n)] for i in range(n)]
    matrix[0][1] = 1
    return {
        "task": "classification",
        "test_size": 4 * n,
        "accuracy": accuracy,
        "macro_f1": accuracy,
        "micro_f1": accuracy,
        "per_label": per_label,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix},
        "most_confused": [{"true": labels[0], "predicted": labels[1], "count": 1}],
        "misclassified": [
            {"text": "Where is my new card?", "label": labels[0], "predicted": labels[1], "score": 0.61}
        ],
        "headline": {"name": "accuracy", "value": accuracy},
        "baseline": {"name": "tfidf_logreg", "headline": {"name": "accuracy", "value": 0.5}},
        "lift": accuracy - 0.5,
        "latency_ms_p50": 4.2,
        "predictions": [],
    }


def make_model_version(tenant, dataset_version, *, name: str = "support", accuracy: float = 0.9, weak=None):
    """The next version of model ``name`` (made when missing), with a full evaluation."""
    with tenant_context(tenant):
        model, _ = Model.objects.get_or_create(name=name, defaults={"task": "classification"})
        number = (model.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        labels = sorted({*dataset_version.labels})
        return ModelVersionFactory(
            model=model,
            number=number,
            dataset_version=dataset_version,
            artifact_path=f"models/{name}/v{number}",
            labels=labels,
            metrics=evaluation_metrics(accuracy, labels, weak),
            headline_value=accuracy,
            baseline_value=0.5,
        )


def make_job(tenant, dataset_version, *, status="running", progress=None, name="support"):
    with tenant_context(tenant):
        return TrainingJobFactory(
            dataset_version=dataset_version,
            model_name=name,
            status=status,
            progress=progress or {},
            started_at=timezone.now(),
            created_by="factory",
        )


def make_feedback(tenant, *, model_name="support", text="my card never came", label="card_arrival"):
    with tenant_context(tenant):
        return FeedbackFactory(
            model_name=model_name,
            model_version=1,
            input=text,
            predicted={"label": "lost_card"},
            correct_label=label,
        )
