"""Importing an uploaded file as a dataset's next version, recording every attempt."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction

from inference.engine.formats import FORMATS, ParseOptions, parse
from inference.engine.types import TASKS
from inference.engine.validation import label_set_errors
from inference.models import Dataset, DatasetUpload, DatasetVersion
from inference.storage import safe_filename, tenant_path

from .create import NAME_MAX_LENGTH, check_label_set, check_name, check_task, dataset_create
from .reports import DatasetError, DatasetUploadError, refused, report_dict, rows_refused, size_text
from .rules import (
    DEFAULT_SEED,
    DEFAULT_SPLIT_RATIOS,
    parse_split_config,
    quota_message,
    row_limit,
    storable_errors,
)
from .versions import Snapshot, lock_next_number, snapshot_build, version_create

logger = logging.getLogger(__name__)


def dataset_upload(
    *,
    name: str,
    file: Any,
    filename: str | None = None,
    task: str | None = None,
    text_column: str = "text",
    label_column: str | None = None,
    format: str | None = None,  # noqa: A002 - the public option is called "format" everywhere else too
    split_ratios: Sequence[float] = DEFAULT_SPLIT_RATIOS,
    seed: int = DEFAULT_SEED,
    repair_bio: bool = False,
    label_set: Sequence[str] | None = None,
    actor: str = "",
) -> DatasetVersion:
    """Import a file (Django File/UploadedFile or bytes) as the next version of dataset ``name``.

    The dataset is created when new (``task`` is then required; ``label_set`` optionally declares
    its labels). Any row problem refuses the whole file. Every attempt is recorded as a DatasetUpload.
    """
    name = str(name or "").strip()
    filename = str(filename or getattr(file, "name", None) or "upload")
    size = _declared_size(file)
    fmt = None if format in (None, "", "auto") else str(format).lower()
    options = {
        "task": task,
        "text_column": text_column,
        "label_column": label_column,
        "format": fmt or "auto",
        "split_ratios": list(split_ratios),
        "seed": seed,
        "repair_bio": repair_bio,
    }
    dataset = Dataset.objects.filter(name=name).first()
    attempt = _Attempt(dataset=dataset, name=name, filename=filename, size=size, options=options, actor=actor)
    try:
        task = _upload_task(dataset=dataset, name=name, task=task, label_set=label_set)
        if fmt is not None and fmt not in FORMATS:
            raise refused(
                f"Unknown file format '{format}'. Choose auto, {', '.join(FORMATS)}.", code="invalid_format"
            )
        split_config = parse_split_config(split_ratios, seed)
        limit = settings.SCALPEL_UPLOAD_MAX_BYTES
        if size > limit:
            # Checked on the declared size, before the file is read into memory.
            raise refused(
                f"The file is {size_text(size)}; the largest file you can upload is {size_text(limit)}. "
                "Remove columns you do not need, or split the rows over several smaller files.",
                code="file_too_large",
            )
        data = _read(file)
        max_rows, quota = row_limit()
        result = parse(
            data,
            ParseOptions(
                task=task,
                format=fmt,
                text_column=text_column,
                label_column=label_column or None,
                max_text_length=settings.SCALPEL_MAX_TEXT_LENGTH,
                max_rows=max_rows,
                repair_bio=repair_bio,
            ),
        )
        errors = quota_message(result.errors, max_rows, quota)
        declared = dataset.label_set if dataset is not None else check_label_set(label_set)
        errors += storable_errors(result.examples) + label_set_errors(result.examples, task, declared)
        if errors:
            raise rows_refused(errors, warnings=result.warnings, parsed=len(result.examples))
        snapshot = snapshot_build(
            result.examples, task=task, split_config=split_config, warnings=result.warnings, assign=True
        )
        meta = {"format": result.format, "encoding": result.encoding, "source_filename": filename[:300]}
        return _upload_commit(attempt, snapshot, data=data, task=task, label_set=label_set, meta=meta)
    except DatasetUploadError as exc:
        attempt.record_failure(exc.report)
        raise
    except DatasetError as exc:
        refusal = refused(exc.message, code=exc.code)
        attempt.record_failure(refusal.report)
        raise refusal from exc


@dataclass
class _Attempt:
    """What is known about one upload attempt, enough to record it whatever happens."""

    dataset: Dataset | None
    name: str
    filename: str
    size: int
    options: dict[str, Any]
    actor: str

    def record(self, *, status: str, report: dict[str, Any], dataset=None, version=None) -> DatasetUpload:
        return DatasetUpload.objects.create(
            dataset=dataset or self.dataset,
            dataset_name=self.name[:NAME_MAX_LENGTH],
            filename=self.filename[:300],
            size_bytes=self.size,
            options=self.options,
            status=status,
            report=report,
            version=version,
            created_by=self.actor,
        )

    def record_failure(self, report: dict[str, Any]) -> None:
        # Runs after the import's transaction rolled back, so the report survives the failure.
        self.record(status=DatasetUpload.Status.FAILED, report=report)


def _upload_task(*, dataset: Dataset | None, name: str, task: str | None, label_set) -> str:
    if dataset is None:
        check_name(name)
        if not task:
            raise DatasetError(
                f"There is no dataset named '{name}' yet, so say which task its data is for: "
                f"{', '.join(TASKS)}.",
                code="task_required",
            )
        return check_task(task)
    if task and task != dataset.task:
        raise DatasetError(
            f"The dataset '{dataset.name}' holds {dataset.task} data, but this upload is for {task}. "
            "Upload it under a new dataset name instead.",
            code="task_mismatch",
        )
    if label_set:
        raise DatasetError(
            f"The dataset '{dataset.name}' already exists; its declared labels cannot be changed by an upload.",
            code="invalid_label_set",
        )
    return dataset.task


def _declared_size(file: Any) -> int:
    """The file's size without reading it: Django files know it, plain files are measured by seeking."""
    if isinstance(file, bytes | bytearray):
        return len(file)
    size = getattr(file, "size", None)
    if size is None and hasattr(file, "seek") and hasattr(file, "tell"):
        file.seek(0, io.SEEK_END)
        size = file.tell()
        file.seek(0)
    return int(size or 0)


def _read(file: Any) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def _upload_commit(
    attempt: _Attempt, snapshot: Snapshot, *, data: bytes, task: str, label_set, meta: dict[str, str]
) -> DatasetVersion:
    """Store the file, the version, its rows and the attempt together, or none of them."""
    stored = None
    try:
        with transaction.atomic():
            dataset = attempt.dataset or _dataset_create_for_upload(
                name=attempt.name, task=task, label_set=label_set, actor=attempt.actor
            )
            dataset, number = lock_next_number(dataset)
            path = tenant_path("datasets", dataset.name, f"v{number}", safe_filename(attempt.filename))
            stored = default_storage.save(path, ContentFile(data))
            version = version_create(
                dataset=dataset,
                number=number,
                snapshot=snapshot,
                source_kind="upload",
                source_file=stored,
                actor=attempt.actor,
                **meta,
            )
            attempt.record(
                status=DatasetUpload.Status.SUCCEEDED, report=version.report, dataset=dataset, version=version
            )
    except DatasetError:
        _delete_quietly(stored)
        raise
    except Exception:
        _delete_quietly(stored)
        logger.exception("Dataset upload failed: tenant=%s dataset=%s", _schema(), attempt.name)
        attempt.record_failure(
            report_dict(
                summary="The file could not be imported because of an internal error; nothing was saved. "
                "Try again, and contact your platform operator if it keeps happening."
            )
        )
        raise
    return version


def _dataset_create_for_upload(*, name: str, task: str, label_set, actor: str) -> Dataset:
    try:
        return dataset_create(name=name, task=task, label_set=label_set, actor=actor)
    except DatasetError as exc:
        if exc.code == "dataset_exists":  # another upload created it a moment ago
            raise DatasetError(
                f"The dataset '{name}' was created by someone else while this file was being checked. "
                "Upload the file again to add it as a new version.",
                code="dataset_exists",
                status=409,
            ) from exc
        raise


def _delete_quietly(path: str | None) -> None:
    if path:
        try:
            default_storage.delete(path)
        except OSError:
            logger.warning("Could not delete the orphaned upload %s", path)


def _schema() -> str:
    return getattr(connection, "schema_name", "?")
