"""Batch predictions: answer every row of a CSV/TSV or JSON Lines file with one model version.

``batch_prediction_start`` checks the request and the file's header before anything is stored, and
queues the batch; a worker runs ``batch_prediction_run``: it streams the file in chunks of
``SCALPEL_PREDICT_MAX_BATCH`` texts through the same predictor as ``POST .../predict`` (so each answer
is the one predict gives), writes JSON Lines in input order to a local temporary file, and stores
it in the tenant's storage when done. Memory stays bounded by one chunk whatever the file's size.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict, NotFound
from inference.models import BatchPrediction, Model
from inference.selectors.registry import model_version_for_serving
from inference.services.datasets.files import spreadsheet_safe
from inference.storage import safe_filename, tenant_path
from tenants.actors import API_KEY, Actor, as_actor
from tenants.permissions import permission_check
from tenants.services import usage_record_texts
from tenants.services.audit import audit_record

from .messaging import send_after_commit
from .runtime_cache import runtime_cache
from .serving import PREDICT_MAX_TOP_K
from .webhooks import webhook_emit

logger = logging.getLogger("scalpel.batch")

BATCH_PREDICT_TASK = "inference.tasks.batch_predict"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
HEADER_BYTES = 64 * 1024  # enough of the file to read its header line or first JSON object
PROGRESS_EVERY = 10  # chunks between progress writes
# Texts answered at a time: what one predict request may send, so each answer is one predict would give.
CHUNK_TEXTS = settings.SCALPEL_PREDICT_MAX_BATCH


def _format_of(filename: str, fmt: str | None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise ApplicationError(
                f"Unknown format '{fmt}': use csv, tsv or jsonl.", code="validation_failed", field="format"
            )
        return fmt
    ext = os.path.splitext(filename.lower())[1]
    if ext not in FORMATS:
        raise ApplicationError(
            f"Cannot tell the format of '{filename}': name it .csv, .tsv or .jsonl, or set format.",
            code="validation_failed",
            field="format",
        )
    return FORMATS[ext]


def _check_header(head: bytes, fmt: str, text_column: str) -> None:
    """Refuse, before anything is stored, a file whose first line has no such text column."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(head) < HEADER_BYTES or exc.start < len(head) - 4:  # not a character cut by the sample
            raise ApplicationError(
                "The file is not UTF-8 text: save it as UTF-8 (CSV UTF-8 in a spreadsheet).",
                code="validation_failed",
                field="file",
            ) from exc
        text = head[: exc.start].decode("utf-8-sig")
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise ApplicationError("The file is empty.", code="validation_failed", field="file")
    if fmt == "jsonl":
        try:
            row = json.loads(first)
        except ValueError as exc:
            raise ApplicationError(
                "The first line is not a JSON object: each line must be one, e.g. "
                f'{{"{text_column}": "..."}}.',
                code="validation_failed",
                field="file",
            ) from exc
        if not isinstance(row, dict) or text_column not in row:
            raise ApplicationError(
                f'The first line has no "{text_column}" field: set text_column to the field holding the texts.',
                code="validation_failed",
                field="text_column",
            )
        return
    columns = next(csv.reader([first], delimiter="\t" if fmt == "tsv" else ","))
    if text_column not in columns:
        raise ApplicationError(
            f"The file has no column '{text_column}' (its columns: {', '.join(columns)}): "
            "set text_column to the column holding the texts.",
            code="validation_failed",
            field="text_column",
            details={"columns": columns},
        )


def batch_prediction_start(
    *,
    model_name: str,
    file,
    filename: str,
    text_column: str = "text",
    version: int | str | None = None,
    top_k: int | None = None,
    fmt: str | None = None,
    actor: Actor | str = "",
    api_key=None,
) -> BatchPrediction:
    """Check the request and the file's header, store the file and queue the batch."""
    actor = as_actor(actor)
    permission_check(actor=actor, action="predict")
    text_column = (text_column or "text").strip()
    if top_k is not None and not 1 <= top_k <= PREDICT_MAX_TOP_K:
        raise ApplicationError(
            f"top_k must be between 1 and {PREDICT_MAX_TOP_K}.", code="validation_failed", field="top_k"
        )
    fmt = _format_of(filename, fmt)
    limit = settings.SCALPEL_BATCH_MAX_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise ApplicationError(
            f"The file has {size:,} bytes; a batch takes at most {limit:,}. Split it into several batches.",
            code="payload_too_large",
            details={"max_bytes": limit},
        )
    model = Model.objects.filter(name=model_name).first()
    if model is None:
        raise NotFound(f"There is no model named '{model_name}'.")
    resolved = model_version_for_serving(name=model_name, ref=version)
    if resolved is None:
        if version in (None, "", "production") or not model.versions.exists():
            raise ApplicationError(
                f"The model '{model_name}' has no trained version yet. Wait for its training job to finish.",
                code="model_not_ready",
            )
        raise NotFound(f"The model '{model_name}' has no version or alias '{version}'.")
    file.seek(0)
    _check_header(file.read(HEADER_BYTES), fmt, text_column)
    file.seek(0)
    path = tenant_path("batches", f"{uuid.uuid4().hex}-{safe_filename(filename)}")
    stored = default_storage.save(path, file)
    try:
        with transaction.atomic():
            batch = BatchPrediction.objects.create(
                model=model,
                version=resolved,
                input_file=stored,
                input_filename=filename[:300],
                input_format=fmt,
                text_column=text_column[:200],
                top_k=top_k,
                api_key_id=getattr(api_key, "pk", None),
                api_key_prefix=getattr(api_key, "prefix", "") if actor.kind == API_KEY else "",
                created_by=actor.name[:200],
            )
            audit_record(
                action="batch.created",
                actor=actor,
                obj=batch,
                details={"model": model.name, "version": resolved.number, "file": filename},
            )
            _enqueue(batch)
    except Exception:
        default_storage.delete(stored)
        raise
    return batch


def _enqueue(batch: BatchPrediction) -> None:
    send_after_commit(BATCH_PREDICT_TASK, [[batch.pk]], what="batch prediction")


def batch_prediction_cancel(*, batch: BatchPrediction, actor: Actor | str = "") -> BatchPrediction:
    actor = as_actor(actor)
    permission_check(actor=actor, action="predict")
    with transaction.atomic():
        batch = BatchPrediction.objects.select_for_update().get(pk=batch.pk)
        if not batch.is_active:
            raise Conflict(f"Batch {batch.pk} has already {batch.status}.", code="batch_finished")
        if batch.status == BatchPrediction.Status.QUEUED:
            batch.status, batch.finished_at = BatchPrediction.Status.CANCELLED, timezone.now()
        batch.cancel_requested = True  # a running batch stops at its next chunk
        batch.save(update_fields=["status", "finished_at", "cancel_requested"])
        audit_record(action="batch.cancelled", actor=actor, obj=batch)
    return batch


def batch_prediction_delete(*, batch: BatchPrediction, actor: Actor | str = "") -> None:
    actor = as_actor(actor)
    permission_check(actor=actor, action="predict")
    with transaction.atomic():
        batch = BatchPrediction.objects.select_for_update().get(pk=batch.pk)
        if batch.status == BatchPrediction.Status.RUNNING:
            raise Conflict(
                f"Batch {batch.pk} is running: cancel it first, then delete it.", code="batch_running"
            )
        files = [path for path in (batch.input_file, batch.output_file) if path]
        audit_record(action="batch.deleted", actor=actor, obj=batch)
        batch.delete()
        transaction.on_commit(lambda: [_delete_quietly(path) for path in files])


def _delete_quietly(path: str) -> None:
    try:
        default_storage.delete(path)
    except OSError:
        logger.warning("could not delete batch file %s", path)


# -- the worker side ------------------------------------------------------------------------------


def _texts(batch: BatchPrediction) -> Iterator[tuple[str | None, str | None]]:
    """(text, None) for each row in file order, or (None, why) for a row with no usable text."""
    max_chars = settings.SCALPEL_PREDICT_MAX_TEXT_LENGTH
    csv.field_size_limit(max(csv.field_size_limit(), max_chars * 4 + 1))  # a long text is refused by row
    with default_storage.open(batch.input_file, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        if batch.input_format == "jsonl":
            rows = (_json_row(line) for line in stream if line.strip())
        else:
            reader = csv.DictReader(stream, delimiter="\t" if batch.input_format == "tsv" else ",")
            rows = (row for row in reader)
        for row in rows:
            if row is None:
                yield None, "not a JSON object"
                continue
            text = row.get(batch.text_column)
            if not isinstance(text, str) or not text.strip():
                yield None, f"no text in '{batch.text_column}'"
            elif len(text) > max_chars:
                yield None, f"the text has {len(text)} characters; the limit is {max_chars}"
            else:
                yield text, None


def _json_row(line: str) -> dict | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def batch_prediction_claim(batch_id: int) -> bool:
    return bool(
        BatchPrediction.objects.filter(pk=batch_id, status=BatchPrediction.Status.QUEUED).update(
            status=BatchPrediction.Status.RUNNING, started_at=timezone.now()
        )
    )


def batch_prediction_run(batch_id: int) -> str:
    """Answer every row of a claimed batch; returns its final status."""
    batch = BatchPrediction.objects.select_related("version__model", "model").get(pk=batch_id)
    out_path = None
    try:
        total = sum(1 for _ in _texts(batch))
        BatchPrediction.objects.filter(pk=batch.pk).update(rows_total=total)
        predictor = runtime_cache().get(schema=connection.schema_name, version=batch.version)
        chunk_size = CHUNK_TEXTS
        done = failed = answered = 0
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", delete=False) as out:
            out_path = out.name
            chunk: list[tuple[str | None, str | None]] = []
            chunks = 0

            def flush() -> None:
                nonlocal done, failed, answered
                texts = [text for text, problem in chunk if problem is None]
                answers = iter(predictor.predict(texts, top_k=batch.top_k) if texts else [])
                for text, problem in chunk:
                    line = {"row": done, "text": text, **next(answers)} if problem is None else {
                        "row": done, "error": problem}  # fmt: skip
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    done += 1
                failed += len(chunk) - len(texts)
                answered += len(texts)
                chunk.clear()

            for item in _texts(batch):
                chunk.append(item)
                if len(chunk) == chunk_size:
                    flush()
                    chunks += 1
                    if chunks % PROGRESS_EVERY == 0 and _progress(batch, done, failed):
                        return _cancelled(batch, done, failed)
            flush()
        if _progress(batch, done, failed):
            return _cancelled(batch, done, failed)
        with open(out_path, "rb") as fh:
            stored = default_storage.save(tenant_path("batches", f"{batch.pk}-results.jsonl"), File(fh))
        BatchPrediction.objects.filter(pk=batch.pk).update(
            status=BatchPrediction.Status.SUCCEEDED, output_file=stored, finished_at=timezone.now()
        )
        webhook_emit("batch.succeeded", _event_data(batch, rows=done, rows_failed=failed))
        usage_record_texts(
            tenant_id=connection.tenant.pk,
            api_key_id=batch.api_key_id,
            prefix=batch.api_key_prefix or "dashboard",
            texts=answered,
        )
        return BatchPrediction.Status.SUCCEEDED
    except Exception as exc:
        logger.exception("batch %s failed", batch.pk)
        if isinstance(exc, UnicodeDecodeError):
            message = "Part of the file is not UTF-8 text: save it as UTF-8 (CSV UTF-8) and send it again."
        elif isinstance(exc, ApplicationError | csv.Error):
            message = f"The file could not be read: {exc}"
        else:
            message = "The batch failed on our side; try again, and tell support if it fails again."
        BatchPrediction.objects.filter(pk=batch.pk).update(
            status=BatchPrediction.Status.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        webhook_emit("batch.failed", _event_data(batch, error=message, results_url=None))
        return BatchPrediction.Status.FAILED
    finally:
        if out_path and os.path.exists(out_path):
            os.unlink(out_path)


def _event_data(batch: BatchPrediction, **extra) -> dict:
    return {
        "batch": batch.pk,
        "model": batch.model.name,
        "version": batch.version.number,
        "results_url": f"/api/v1/models/{batch.model.name}/batch-predictions/{batch.pk}/results",
        **extra,
    }


def _progress(batch: BatchPrediction, done: int, failed: int) -> bool:
    """Write progress; True when a cancellation was asked for."""
    BatchPrediction.objects.filter(pk=batch.pk).update(rows_done=done, rows_failed=failed)
    return BatchPrediction.objects.filter(pk=batch.pk, cancel_requested=True).exists()


def _cancelled(batch: BatchPrediction, done: int, failed: int) -> str:
    BatchPrediction.objects.filter(pk=batch.pk).update(
        status=BatchPrediction.Status.CANCELLED,
        rows_done=done,
        rows_failed=failed,
        finished_at=timezone.now(),
    )
    return BatchPrediction.Status.CANCELLED


def batch_results_lines(batch: BatchPrediction) -> Iterator[bytes]:
    """The results file, line by line (for a streamed download)."""
    with default_storage.open(batch.output_file, "rb") as fh:
        yield from fh


def batch_results_csv(batch: BatchPrediction) -> Iterator[str]:
    """The results as CSV rows: row, text, label, score, labels (JSON), entities (JSON), error."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "text", "label", "score", "labels", "entities", "error"])
    yield buffer.getvalue()
    for raw in batch_results_lines(batch):
        row = json.loads(raw)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([
            row["row"], spreadsheet_safe(row.get("text") or ""), row.get("label", ""), row.get("score", ""),
            json.dumps(row["labels"], ensure_ascii=False) if "labels" in row else "",
            json.dumps(row["entities"], ensure_ascii=False) if "entities" in row else "",
            row.get("error", ""),
        ])  # fmt: skip
        yield buffer.getvalue()
