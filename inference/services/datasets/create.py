"""Creating a dataset, and the rules for its name, task and declared labels."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from inference.engine.types import TASKS
from inference.models import Dataset

from .reports import DatasetError
from .rules import LABEL_MAX_LENGTH

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
NAME_MAX_LENGTH = 100


def dataset_create(
    *, name: str, task: str, label_set: Sequence[str] | None = None, description: str = "", actor: str = ""
) -> Dataset:
    """A new, empty dataset; its versions come from uploads and appends."""
    name = check_name(name)
    task = check_task(task)
    labels = check_label_set(label_set)
    if Dataset.objects.filter(name=name).exists():
        raise DatasetError(
            f"A dataset named '{name}' already exists. Choose another name, or upload a new version to it.",
            code="dataset_exists",
        )
    try:
        with transaction.atomic():
            return Dataset.objects.create(
                name=name, task=task, label_set=labels, description=description, created_by=actor
            )
    except IntegrityError as exc:  # created by a concurrent request since the check above
        raise DatasetError(f"A dataset named '{name}' already exists.", code="dataset_exists") from exc


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DatasetError("Give the dataset a name.", code="invalid_name")
    if len(name) > NAME_MAX_LENGTH:
        raise DatasetError(
            f"The dataset name is {len(name)} characters long; use at most {NAME_MAX_LENGTH}.",
            code="invalid_name",
        )
    if not _NAME.match(name):
        raise DatasetError(
            f"'{name}' is not a valid dataset name: use only letters, digits, hyphens (-) and underscores (_), "
            "starting with a letter or digit (for example 'support-tickets').",
            code="invalid_name",
        )
    return name


def check_task(task: str | None) -> str:
    if task not in TASKS:
        raise DatasetError(f"Unknown task '{task}'. Choose one of: {', '.join(TASKS)}.", code="invalid_task")
    return task


def check_label_set(label_set: Sequence[str] | None) -> list[str]:
    if isinstance(label_set, str):
        raise DatasetError("Give the declared labels as a list of names.", code="invalid_label_set")
    labels = list(dict.fromkeys(str(label).strip() for label in label_set or [] if str(label).strip()))
    too_long = [label for label in labels if len(label) > LABEL_MAX_LENGTH]
    if too_long:
        raise DatasetError(
            f"The label '{too_long[0][:50]}…' is too long; labels may be at most {LABEL_MAX_LENGTH} characters.",
            code="invalid_label_set",
        )
    return labels
