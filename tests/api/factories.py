"""Rows of one tenant built directly with the ORM (no training), and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import schema_context

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
from tenants.models import ApiKey
from tenants.services import api_key_create

# Every scope; "admin" (promotion, rollback) also holds all the others.
ALL_SCOPES = ["predict", "data", "train", "read", "admin"]
ROWS = [("great service", "pos"), ("awful wait", "neg"), ("lovely staff", "pos"), ("rude reply", "neg")]


def raw_key(tenant, scopes=None, **kwargs) -> str:
    _, raw = api_key_create(tenant=tenant, name="test", scopes=scopes or ALL_SCOPES, **kwargs)
    return raw


def key_of(raw: str) -> ApiKey:
    return ApiKey.objects.get(prefix=raw.split("_")[1])


@dataclass
class TenantObjects:
    dataset: str
    model: str
    empty_model: str
    job_id: int
    feedback_id: int


def dataset_with_version(name: str, *, rows=ROWS, task: str = "classification") -> DatasetVersion:
    """A dataset with one version in the current schema; every row in train except one per split."""
    dataset = Dataset.objects.create(name=name, task=task)
    splits = ["train", "validation", "test"] + ["train"] * max(0, len(rows) - 3)
    labels = sorted({label for _, label in rows})
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        content_hash="0" * 64,
        row_count=len(rows),
        split_counts={s: splits.count(s) for s in ("train", "validation", "test")},
        label_counts={},
        labels=labels,
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
    return ModelVersion.objects.create(
        model=model,
        number=number,
        artifact_path=f"nowhere/v{number}",
        artifact_checksum="0" * 64,
        labels=dataset_version.labels,
        metrics={"headline": {"name": "accuracy", "value": value}, "per_label": {}},
        headline_metric="accuracy",
        headline_value=value,
        baseline_value=baseline,
        dataset_version=dataset_version,
        dataset_hash=dataset_version.content_hash,
        base_model_id="minilm-l6",
        method="head",
    )


def tenant_objects(tenant, prefix: str) -> TenantObjects:
    """A dataset, a queued job, a model with two versions (production v2, rolled from v1), feedback."""
    with schema_context(tenant.schema_name):
        version = dataset_with_version(f"{prefix}-reviews")
        job = TrainingJob.objects.create(
            dataset_version=version, model_name=f"{prefix}-sentiment", base_model_id="minilm-l6"
        )
        model = Model.objects.create(name=f"{prefix}-sentiment", task="classification")
        v1, v2 = model_version(model, 1, version), model_version(model, 2, version)
        ModelAlias.objects.create(model=model, alias="production", version=v2)
        AliasChange.objects.create(
            model=model, alias="production", from_version=1, to_version=2, action="promote"
        )
        del v1
        empty = Model.objects.create(name=f"{prefix}-untrained", task="classification")
        feedback = Feedback.objects.create(model_name=model.name, input="so good", correct_label="pos")
        return TenantObjects(
            dataset=version.dataset.name,
            model=model.name,
            empty_model=empty.name,
            job_id=job.pk,
            feedback_id=feedback.pk,
        )
