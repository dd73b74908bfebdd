"""Reads of a tenant's datasets, versions, examples and upload attempts (current schema only)."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from inference.engine.diff import examples_diff
from inference.engine.types import Example as EngineExample
from inference.engine.types import Span
from inference.models import Dataset, DatasetUpload, DatasetVersion, Example


def dataset_list() -> QuerySet[Dataset]:
    """Every dataset, with ``version_count`` and ``latest_number`` annotated."""
    return Dataset.objects.annotate(
        version_count=Count("versions"), latest_number=Max("versions__number")
    ).order_by("name")


def dataset_get(*, name: str) -> Dataset | None:
    return Dataset.objects.filter(name=name).first()


def dataset_version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset=dataset).order_by("-number")


def dataset_version_get(*, dataset: Dataset, number: int | None = None) -> DatasetVersion | None:
    """Version ``number`` of ``dataset``; the latest one when ``number`` is None."""
    versions = dataset_version_list(dataset=dataset).select_related("dataset")
    return versions.first() if number is None else versions.filter(number=number).first()


def dataset_version_examples(
    *, version: DatasetVersion, split: str | None = None, label: str | None = None, search: str | None = None
) -> QuerySet[Example]:
    """The version's rows in file order, optionally narrowed to a split, a label and a text search."""
    rows = Example.objects.filter(version=version).order_by("index")
    if split:
        rows = rows.filter(split=split)
    if label:
        task = version.dataset.task
        if task == "classification":
            rows = rows.filter(label=label)
        elif task == "multilabel":
            rows = rows.filter(labels__contains=[label])
        else:
            # jsonb containment: any entity whose label is ``label``.
            rows = rows.filter(entities__contains=[{"label": label}])
    if search:
        rows = rows.filter(text__icontains=search)
    return rows


def example_to_engine(row: Example, task: str) -> EngineExample:
    """A stored row as the engine's Example (the shape training, export and hashing use)."""
    return EngineExample(
        text=row.text,
        label=(row.label or None) if task == "classification" else None,
        labels=list(row.labels or []) if task == "multilabel" else None,
        entities=[Span(e["start"], e["end"], e["label"]) for e in row.entities or []]
        if task == "extraction"
        else None,
        tokens=list(row.tokens) if row.tokens else None,
        split=row.split,
        line=row.line,
    )


def dataset_version_to_examples(version: DatasetVersion) -> list[EngineExample]:
    """Every row of ``version`` as engine Examples with their stored split, in file order."""
    task = version.dataset.task
    rows = Example.objects.filter(version=version).order_by("index")
    return [example_to_engine(row, task) for row in rows.iterator(chunk_size=5000)]


def dataset_upload_list(
    *, dataset: Dataset | None = None, dataset_name: str | None = None, status: str | None = None
) -> QuerySet[DatasetUpload]:
    """Upload attempts, newest first; a failed attempt at a new name has no dataset, only its name."""
    uploads = DatasetUpload.objects.select_related("dataset", "version").order_by("-created_at", "-pk")
    if dataset is not None:
        uploads = uploads.filter(dataset=dataset)
    if dataset_name:
        uploads = uploads.filter(dataset_name=dataset_name)
    if status:
        uploads = uploads.filter(status=status)
    return uploads


def dataset_versions_compare(*, a: DatasetVersion, b: DatasetVersion) -> dict:
    """Rows added, removed and relabelled going from version ``a`` to version ``b``, with samples."""
    return examples_diff(dataset_version_to_examples(a), dataset_version_to_examples(b)).as_dict()
