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

from core.exceptions import StorageFull
from inference.engine.diff import examples_diff
from inference.engine.formats import FORMATS, ParseOptions, cap_errors, parse
from inference.engine.types import TASKS, Example, RowError
from inference.engine.validation import label_set_errors
from inference.models import Dataset, DatasetUpload, DatasetVersion
from inference.selectors.datasets import dataset_version_get, dataset_version_to_examples
from inference.storage import safe_filename, tenant_path
from tenants.actors import Actor, as_actor
from tenants.permissions import permission_check
from tenants.services.audit import audit_record

from .create import NAME_MAX_LENGTH, check_label_set, check_name, check_task, dataset_create
from .limits import refuse_if_too_large
from .options import DEFAULT_SPLIT_COLUMN, labels_parse, split_parse, split_ratios_parse
from .reports import DatasetError, DatasetUploadError, refused, report_dict, rows_refused
from .rules import (
    DEFAULT_SEED,
    DEFAULT_SPLIT_RATIOS,
    parse_split_config,
    quota_message,
    row_limit,
    storable_errors,
)
from .versions import (
    Snapshot,
    check_still_latest,
    lock_next_number,
    snapshot_append,
    snapshot_build,
    version_create,
)

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
    split_column: str = DEFAULT_SPLIT_COLUMN,
    split: str | None = None,
    split_ratios: Sequence[float] | str = DEFAULT_SPLIT_RATIOS,
    seed: int = DEFAULT_SEED,
    repair_bio: bool = False,
    label_set: Sequence[str] | str | None = None,
    actor: Actor | str = "",
) -> DatasetVersion:
    """Import a file (Django File/UploadedFile or bytes) as the next version of dataset ``name``.

    The dataset is created when new (``task`` is then required; ``label_set`` optionally declares
    its labels). With ``split`` every row goes to that split and, when the dataset has a version
    already, the new version is that one plus these rows. Any row problem refuses the whole file.
    Every attempt is recorded as a DatasetUpload.
    """
    prepared = _prepare(**_arguments(locals()), record=True)
    try:
        return _upload_commit(
            prepared.attempt,
            prepared.snapshot,
            data=prepared.data,
            task=prepared.task,
            label_set=prepared.label_set,
            meta=prepared.meta,
            parent=prepared.parent,
        )
    except DatasetUploadError as exc:
        prepared.attempt.record_failure(exc.report)
        raise
    except DatasetError as exc:
        refusal = refused(exc.message, code=exc.code)
        prepared.attempt.record_failure(refusal.report)
        raise refusal from exc


def dataset_upload_preview(**kwargs) -> dict[str, Any]:
    """What ``dataset_upload`` with these arguments would make, saving nothing: the version's number,
    its report, and its changes against the dataset's latest version (rows added, removed, relabelled).
    A file the upload would refuse raises the same ``DatasetUploadError``."""
    prepared = _prepare(**_arguments(kwargs), record=False)
    dataset = prepared.attempt.dataset
    latest = dataset_version_get(dataset=dataset) if dataset is not None else None
    changes = None
    if latest is not None:
        changes = examples_diff(dataset_version_to_examples(latest), prepared.snapshot.examples).as_dict()
        changes["from_version"] = latest.number
    return {
        "dataset": prepared.attempt.name,
        "version": (latest.number + 1) if latest is not None else 1,
        "rows": len(prepared.snapshot.examples),
        "trainable": prepared.snapshot.trainable,
        "report": prepared.snapshot.report(),
        "changes": changes,
    }


_ARGUMENTS = (
    "name", "file", "filename", "task", "text_column", "label_column", "format", "split_column", "split",
    "split_ratios", "seed", "repair_bio", "label_set", "actor",
)  # fmt: skip


def _arguments(given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(_ARGUMENTS)
    if unknown:
        raise TypeError(f"unexpected upload option(s): {', '.join(sorted(unknown))}")
    return {k: v for k, v in given.items() if k in _ARGUMENTS}


@dataclass
class _Prepared:
    attempt: _Attempt
    snapshot: Snapshot
    data: bytes
    task: str
    label_set: Any
    meta: dict[str, str]
    parent: DatasetVersion | None


def _prepare(
    *,
    name: str,
    file: Any,
    filename: str | None = None,
    task: str | None = None,
    text_column: str = "text",
    label_column: str | None = None,
    format: str | None = None,  # noqa: A002
    split_column: str = DEFAULT_SPLIT_COLUMN,
    split: str | None = None,
    split_ratios: Sequence[float] | str = DEFAULT_SPLIT_RATIOS,
    seed: int = DEFAULT_SEED,
    repair_bio: bool = False,
    label_set: Sequence[str] | str | None = None,
    actor: Actor | str = "",
    record: bool,
) -> _Prepared:
    """Read, parse and check the file, and build the version's rows: everything but saving them.
    A refusal is recorded as a failed attempt when ``record``."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="dataset.upload")  # before anything is read or recorded
    name = str(name or "").strip()
    filename = str(filename or getattr(file, "name", None) or "upload")
    size = _declared_size(file)
    fmt = None if format in (None, "", "auto") else str(format).lower()
    options = {
        "task": task,
        "text_column": text_column,
        "label_column": label_column,
        "format": fmt or "auto",
        "split_column": split_column,
        "split": split,
        "split_ratios": split_ratios if isinstance(split_ratios, str) else list(split_ratios),
        "seed": seed,
        "repair_bio": repair_bio,
    }
    dataset = Dataset.objects.filter(name=name).first()
    attempt = _Attempt(dataset=dataset, name=name, filename=filename, size=size, options=options, actor=actor)
    try:
        label_set = labels_parse(label_set) if label_set else None
        task = _upload_task(dataset=dataset, name=name, task=task, label_set=label_set)
        if fmt is not None and fmt not in FORMATS:
            raise refused(
                f"Unknown file format '{format}'. Choose auto, {', '.join(FORMATS)}.", code="invalid_format"
            )
        split_config = parse_split_config(split_ratios_parse(split_ratios), seed)
        whole_split = split_parse(split)
        refuse_if_too_large(size)  # on the declared size, before the file is read into memory
        data = _read(file)
        max_rows, quota = row_limit()
        result = parse(
            data,
            ParseOptions(
                task=task,
                format=fmt,
                text_column=text_column or "text",
                label_column=label_column or None,
                split_column=split_column or DEFAULT_SPLIT_COLUMN,
                max_text_length=settings.SCALPEL_MAX_TEXT_LENGTH,
                max_rows=max_rows,
                repair_bio=repair_bio,
            ),
        )
        errors = quota_message(result.errors, max_rows, quota)
        declared = dataset.label_set if dataset is not None else check_label_set(label_set)
        errors += storable_errors(result.examples) + label_set_errors(result.examples, task, declared)
        if whole_split is not None:
            errors += _whole_file_split(result.examples, whole_split)
        if errors:
            raise rows_refused(errors, warnings=result.warnings, parsed=len(result.examples))
        parent = dataset_version_get(dataset=dataset) if dataset is not None and whole_split else None
        if parent is not None:
            # One file of a corpus shipped as train/dev/test files: added to what came before.
            snapshot = snapshot_append(
                parent=parent, new_rows=result.examples, warnings=result.warnings, also_given=[whole_split]
            )
        else:
            snapshot = snapshot_build(
                result.examples, task=task, split_config=split_config, warnings=result.warnings, assign=True
            )
        meta = {"format": result.format, "encoding": result.encoding, "source_filename": filename[:300]}
        return _Prepared(attempt, snapshot, data, task, label_set, meta, parent)
    except DatasetUploadError as exc:
        if record:
            attempt.record_failure(exc.report)
        raise
    except DatasetError as exc:
        refusal = refused(exc.message, code=exc.code)
        if record:
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
    actor: Actor

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
            created_by=str(self.actor),
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
    if label_set and check_label_set(label_set) != dataset.label_set:
        raise DatasetError(
            f"The dataset '{dataset.name}' already exists; its declared labels cannot be changed by an upload.",
            code="invalid_label_set",
        )
    return dataset.task


def _whole_file_split(examples: list[Example], split: str) -> list[RowError]:
    """Every row goes to ``split``; a row whose own split says otherwise is a contradiction to fix."""
    errors = []
    for ex in examples:
        if ex.split not in (None, split):
            errors.append(
                RowError(
                    ex.line,
                    "split_conflict",
                    f"Line {ex.line}: the row's split is '{ex.split}', but this upload puts every row in "
                    f"'{split}'. Remove the split option, or the row's split value.",
                )
            )
        ex.split = split
    return cap_errors(errors)


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
    attempt: _Attempt,
    snapshot: Snapshot,
    *,
    data: bytes,
    task: str,
    label_set,
    meta: dict[str, str],
    parent: DatasetVersion | None = None,
) -> DatasetVersion:
    """Store the file, the version, its rows and the attempt together, or none of them."""
    stored = None
    try:
        with transaction.atomic():
            dataset = attempt.dataset or _dataset_create_for_upload(
                name=attempt.name, task=task, label_set=label_set, actor=str(attempt.actor)
            )
            dataset, number = lock_next_number(dataset)
            if parent is not None:
                check_still_latest(dataset, parent)
            path = tenant_path("datasets", dataset.name, f"v{number}", safe_filename(attempt.filename))
            stored = default_storage.save(path, ContentFile(data))
            version = version_create(
                dataset=dataset,
                number=number,
                snapshot=snapshot,
                source_kind="upload",
                source_file=stored,
                parent=parent,
                actor=str(attempt.actor),
                **meta,
            )
            attempt.record(
                status=DatasetUpload.Status.SUCCEEDED, report=version.report, dataset=dataset, version=version
            )
            audit_record(
                action="dataset.uploaded", actor=attempt.actor, obj=version,
                details={"filename": attempt.filename, "rows": version.row_count, "bytes": attempt.size},
            )  # fmt: skip
    except DatasetError:
        _delete_quietly(stored)
        raise
    except StorageFull as exc:
        _delete_quietly(stored)
        logger.error("Dataset upload refused, storage full: tenant=%s dataset=%s", _schema(), attempt.name)
        attempt.record_failure(report_dict(summary=exc.message))
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
