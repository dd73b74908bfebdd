"""What a training worker does with a claimed job: train, evaluate, export, register.

The engine's loop yields progress; this module turns it into job rows, heartbeats,
cancellation and the time budget, like spaCy's loop hands control to its caller.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time

import psycopg
import torch
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core import outages
from core.exceptions import StorageFull
from inference.engine import artifact, evaluation
from inference.engine.device import DeviceUnavailable, TrainingDevice, resolve_device
from inference.engine.holdout import evaluation_split
from inference.engine.serving import runtime_choice
from inference.engine.training import TrainingSession, ends_an_epoch
from inference.models import TrainingJob
from inference.selectors.base_models import base_model_dir
from inference.selectors.datasets import dataset_version_to_examples
from inference.services.registry import model_version_create
from inference.services.webhooks import webhook_emit
from tenants.models import Tenant
from tenants.selectors import base_model_get

from .claim import SUSPENDED_REASON, JobLost, owned, worker_name, workspace_suspended
from .events import job_event
from .heartbeat import Heartbeat

logger = logging.getLogger("scalpel.training")

PROGRESS_WRITE_SECONDS = 1.0
STOP_CHECK_SECONDS = 1.0  # how often the engine's long steps ask the database whether to stop


class DatabaseUnavailable(Exception):
    """PostgreSQL stayed away longer than ``SCALPEL_JOB_DATABASE_RETRY_SECONDS`` during a run."""


def _retrying(job: TrainingJob, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, retried with backoff while PostgreSQL is unreachable or restarting.

    A restart or failover takes seconds; without this a running job died with it, could not record
    why, and the sweep later spent an attempt on it blaming the worker. Once the database answers
    again the job's history says what happened.
    """
    delay, started = 0.25, None
    while True:
        try:
            result = fn(*args, **kwargs)
        except (DatabaseError, psycopg.Error) as exc:
            if outages.outage_of(exc) is None or connection.in_atomic_block:
                raise
            now = time.monotonic()
            started = started or now
            if now - started > settings.SCALPEL_JOB_DATABASE_RETRY_SECONDS:
                raise DatabaseUnavailable(str(exc)) from exc
            logger.warning(
                "training job %s: database unavailable (%s); retrying in %.1f s", job.pk, exc, delay
            )
            with contextlib.suppress(Exception):
                connection.close()  # broken: the next try opens a fresh one (the tenant stays set)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if started is not None:
            with contextlib.suppress(Exception):
                job_event(
                    job,
                    f"The database was unavailable for {time.monotonic() - started:.0f} s (a restart or "
                    "failover); training waited and went on.",
                    level="warning",
                )
        return result


def _event(job: TrainingJob, message: str, level: str = "info") -> None:
    _retrying(job, job_event, job, message, level=level)


class JobStopped(Exception):
    """The job must end early: cancelled or out of time. ``status`` and ``reason`` say how."""

    def __init__(self, status: str, reason: str, code: str):
        super().__init__(reason)
        self.status, self.reason, self.code = status, reason, code


def run_training_job(job_id: int) -> None:
    """Run a job that this worker has claimed to a final state, never leaving it `running`; a run
    whose job is taken over meanwhile (re-queued, claimed again, ended) stops at its next write or
    stop check and leaves the job row to whoever has it."""
    job = TrainingJob.objects.select_related("dataset_version__dataset").get(pk=job_id)
    if job.status != TrainingJob.Status.RUNNING or job.worker != worker_name():
        logger.warning(
            "training job %s is %s for worker %r, not this one; not running it",
            job.pk,
            job.status,
            job.worker,
        )
        return
    heartbeat = Heartbeat(job, connection.tenant)
    heartbeat.start()
    try:
        _train_evaluate_register(job)
    except JobLost:
        # Whoever took the job over (a sweep, another worker) writes its outcome, not this run.
        logger.warning(
            "training job %s was taken over while this worker ran it; its results are dropped", job.pk
        )
    except DatabaseUnavailable as exc:
        logger.error("training job %s: the database stayed unavailable (%s); queueing it again", job.pk, exc)
        _requeue(
            job,
            f"The database was unavailable for over {settings.SCALPEL_JOB_DATABASE_RETRY_SECONDS} s; "
            "the job was queued again (this attempt is not counted).",
        )
    except SystemExit:
        # SIGTERM reached this pool process (billiard turns it into SystemExit): a warm shutdown
        # (Ctrl-C of `manage.py dev`, a deploy stopping the worker's process group). The job goes
        # back to the queue now, this attempt not counted, instead of waiting for the sweep.
        logger.warning("training job %s: the worker is stopping; queueing the job again", job.pk)
        with contextlib.suppress(Exception):
            connection.close()  # the signal may have cut a query short
        _requeue(job, "The worker was stopped; the job was queued again (this attempt is not counted).")
        raise
    except JobStopped as stop:
        if _finish(job, stop.status, error=stop.reason, code=stop.code):
            job_event(job, stop.reason, level="warning")
    except DeviceUnavailable as exc:
        reason = _device_reason(exc)
        logger.warning("training job %s: %s", job.pk, reason)
        if _finish(job, TrainingJob.Status.FAILED, error=reason, code="device_unavailable"):
            job_event(job, f"Failed: {reason}", level="error")
    except Exception as exc:  # noqa: BLE001 - any failure must end the job with a readable reason
        outage = outages.outage_of(exc)
        if outage is not None and outages.outage_name(outage) == "database":
            # Met where writes are not retried (registering the version in one transaction).
            logger.warning(
                "training job %s: the database failed mid-run (%s); queueing it again", job.pk, exc
            )
            with contextlib.suppress(Exception):
                connection.close()
            _requeue(
                job,
                "The database failed while the job ran; it was queued again (this attempt is not counted).",
            )
            return
        logger.exception("training job %s failed", job.pk)
        reason = _readable_error(exc)
        if _finish(job, TrainingJob.Status.FAILED, error=reason, code="training_failed"):
            job_event(job, f"Failed: {reason}", level="error")
    finally:
        heartbeat.stop()


def _device_reason(exc: DeviceUnavailable) -> str:
    """The engine's account of the missing GPU, and what the people involved can do about it."""
    return (
        f"{exc.problem}. The job was not started. An operator must set SCALPEL_TRAINING_DEVICE=auto or cpu on that "
        f"worker (it is '{settings.SCALPEL_TRAINING_DEVICE}'), run it on a machine with a GPU, or send this "
        "workspace's jobs to the 'training' queue; then retry the job."
    )


def _training_device() -> TrainingDevice:
    """This worker's device; DeviceUnavailable (the job fails at once, saying why) when CUDA is absent."""
    return resolve_device(settings.SCALPEL_TRAINING_DEVICE)


def _requeue(job: TrainingJob, reason: str) -> None:
    """Queue the job again without counting this attempt: the database or the worker stopped, not the job."""
    from .queue import training_job_enqueue

    try:
        moved = _retrying(
            job,
            lambda: owned(job).update(
                status=TrainingJob.Status.QUEUED,
                worker="",
                attempts=F("attempts") - 1,
                progress={"phase": "queued"},
                heartbeat_at=timezone.now(),
            ),
        )
    except DatabaseUnavailable:
        # Nothing can be written: the sweep re-queues the job once its heartbeat is stale.
        logger.error("training job %s could not be queued again: the database is still unavailable", job.pk)
        return
    if moved:
        _event(job, reason, level="warning")
        training_job_enqueue(job=job)


def _readable_error(exc: Exception) -> str:
    if isinstance(exc, ValueError | artifact.ArtifactError | StorageFull):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The worker ran out of memory. Try a smaller batch size or max length, or the 'lora' method."
    if isinstance(exc, torch.OutOfMemoryError):
        return "The GPU ran out of memory. Try a smaller batch size or max length, or the 'lora' method."
    return f"An internal error stopped training ({type(exc).__name__}). The platform team has the details."


_JOB_EVENTS = {TrainingJob.Status.SUCCEEDED: "job.succeeded", TrainingJob.Status.FAILED: "job.failed"}


def _finish(job: TrainingJob, status: str, *, error: str = "", code: str = "", **fields) -> bool:
    """End the job, only while this run still owns it; False when someone else already has."""
    ended = bool(
        owned(job).update(
            status=status,
            error=error,
            error_code=code,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            **fields,
        )
    )
    if ended and status in _JOB_EVENTS:
        version = fields.get("model_version")
        webhook_emit(
            _JOB_EVENTS[status],
            {
                "job": job.pk,
                "model": job.model_name,
                "version": version.number if version is not None else None,
                "error": error,
                "error_code": code,
            },
        )
    return ended


def _train_evaluate_register(job: TrainingJob) -> None:
    # Before any data is read: a worker asked for a GPU it lacks refuses the job in a second.
    device = _training_device()
    if not owned(job).update(device=device.label):
        raise JobLost(job.pk)
    job.device = device.label
    version = job.dataset_version
    dataset = version.dataset
    base = base_model_get(model_id=job.base_model_id)
    if base is None:
        raise ValueError(f"The base model '{job.base_model_id}' is no longer available.")
    # The test set resolved when the job was created: same rows, same seed, so the same split.
    split = evaluation_split(
        dataset_version_to_examples(version),
        task=dataset.task,
        evaluate_on=job.evaluate_on,
        seed=int((job.evaluation_plan or {}).get("seed", (version.split_config or {}).get("seed", 13))),
    )
    examples = split.examples
    deadline = (
        job.started_at.timestamp() + job.time_budget_seconds
        if job.started_at
        else time.time() + job.time_budget_seconds
    )

    session = TrainingSession(
        examples,
        task=dataset.task,
        labels=version.labels,
        base_model_dir=base_model_dir(base),
        method=job.method,
        hyperparameters=job.hyperparameters,
        base_model_id=base.id,
        device=device,
        time_budget_seconds=max(deadline - time.time(), 0.0),
    )
    plan = session.plan
    if not _retrying(
        job,
        owned(job).update,
        resolved_method=plan.method,
        method_reason=plan.reason,
        resolved_hyperparameters=plan.hyperparameters,
    ):
        raise JobLost(job.pk)
    job.resolved_method, job.resolved_hyperparameters = plan.method, plan.hyperparameters
    _event(job, f"Method: {plan.method}. {plan.reason}")
    _event(job, f"Device: {plan.device_summary()}.")
    _event(job, f"Training on {len(session.train)} examples, validating on {len(session.validation)}.")
    _event(job, split.statement)

    last_write = 0.0
    last_phase = None
    steps = session.run()
    try:
        for progress in steps:
            now = time.monotonic()
            if progress.get("message"):
                _event(job, progress["message"])
            # Throttled, except at a phase change and at the end of an epoch, whose validation
            # score and summary must reach the job even when they follow a write within a second.
            if (
                now - last_write >= PROGRESS_WRITE_SECONDS
                or progress.get("phase") != last_phase
                or ends_an_epoch(progress)
            ):
                last_write, last_phase = now, progress.get("phase")
                _write_progress(job, progress)
                _check_stop(job, deadline)
    finally:
        steps.close()  # stops the engine's loop mid-epoch when we leave early
    trained = session.trained
    if trained is None:
        raise ValueError("Training ended without producing a model.")

    _write_progress(job, {**_progress_of(job), "phase": "evaluating"})
    where = {
        "test": "the test split",
        "carved": "the held-out test set",
        "validation": "the validation split",
    }
    _event(job, f"Evaluating on {where[split.source]} and training the baseline.")
    with tempfile.TemporaryDirectory(prefix="scalpel-artifact-") as tmp:
        _evaluate_save_register(job, trained, session, split, deadline, tmp)


def _evaluate_save_register(job, trained, session, split, deadline, tmp) -> None:
    test = split.test
    version = job.dataset_version
    dataset = version.dataset
    # Export, agreement checks and evaluation run for minutes on a big split: the engine calls
    # this between chunks, so cancel and the time budget hold there as they do while training.
    check_stop = _StopCheck(job, deadline)
    check_stop()
    # The serving runtime is chosen before evaluating, and evaluation runs on it: the version's
    # reported metrics and predictions are those of the runtime that will answer its requests.
    _event(job, "Choosing the serving runtime (ONNX export, int8 agreement on the validation split).")
    predictor, runtime_info = runtime_choice.choose_runtime(
        trained,
        tmp,
        [ex.text for ex in session.validation],
        required=settings.SCALPEL_INT8_MIN_AGREEMENT,
        cache_dir=settings.SCALPEL_ONNX_CACHE_DIR,
        latency_texts=[ex.text for ex in test],
        check_stop=check_stop,
    )
    _event(job, f"Serving runtime: {runtime_info['name']} ({runtime_info.get('reason', '')}).")
    _check_stop(job, deadline)
    report = evaluation.evaluate(
        predictor,
        test,
        task=dataset.task,
        labels=trained.labels,
        train_examples=session.train,
        validation_examples=session.validation,
        check_stop=check_stop,
    )
    report["train_info"] = getattr(trained, "train_info", {})
    # Which rows the figures come from, and a sentence the pages show beside them.
    report["test_source"], report["test_statement"] = split.source, split.statement
    _check_stop(job, deadline)

    _write_progress(job, {**_progress_of(job), "phase": "saving"})
    manifest = artifact.save(
        trained,
        tmp,
        extra_files=runtime_choice.runtime_files(runtime_info),
        extra_manifest={
            "dataset_hash": version.content_hash,
            "training_job": job.pk,
            "model_name": job.model_name,
            "runtime": runtime_info,
        },
    )
    with transaction.atomic():
        # The row stays locked until the version is registered and the job finished: a run that
        # lost the job, or lost the race to finish it, registers nothing.
        current = owned(job).select_for_update().only("cancel_requested").first()
        if current is None:
            raise JobLost(job.pk)
        # The tenant's row too: a suspension commits before this registration or waits for it.
        tenant = Tenant.objects.select_for_update().filter(schema_name=connection.schema_name).first()
        if tenant is not None and tenant.is_suspended:
            raise JobStopped(TrainingJob.Status.CANCELLED, SUSPENDED_REASON, "tenant_suspended")
        if current.cancel_requested:
            raise JobStopped(
                TrainingJob.Status.CANCELLED, "Cancelled by a user before the model was saved.", "cancelled"
            )
        model_version = model_version_create(
            job=job,
            local_dir=tmp,
            manifest=manifest,
            evaluation=report,
            runtime=runtime_info["name"],
            runtime_info=runtime_info,
        )
        _finish(
            job,
            TrainingJob.Status.SUCCEEDED,
            model_version=model_version,
            progress={**_progress_of(job), "phase": "done"},
        )
    headline = report.get("headline", {})
    baseline = (report.get("baseline") or {}).get("headline", {})
    _event(
        job,
        f"Done: {job.model_name} v{model_version.number}, test {headline.get('name')} {headline.get('value', 0):.3f}"
        + (f" (baseline {baseline.get('value', 0):.3f})" if baseline else "")
        + ".",
    )


def _progress_of(job: TrainingJob) -> dict:
    return (
        _retrying(
            job, lambda: TrainingJob.objects.filter(pk=job.pk).values_list("progress", flat=True).first()
        )
        or {}
    )


def _write_progress(job: TrainingJob, progress: dict) -> None:
    clean = {k: v for k, v in progress.items() if k != "message" and v is not None}
    if not _retrying(job, lambda: owned(job).update(progress=clean, heartbeat_at=timezone.now())):
        raise JobLost(job.pk)


def _check_stop(job: TrainingJob, deadline: float) -> None:
    cancel = _retrying(job, lambda: owned(job).values_list("cancel_requested", flat=True).first())
    if cancel is None:
        raise JobLost(job.pk)
    if workspace_suspended():
        raise JobStopped(TrainingJob.Status.CANCELLED, SUSPENDED_REASON, "tenant_suspended")
    if cancel:
        raise JobStopped(TrainingJob.Status.CANCELLED, "Cancelled by a user.", "cancelled")
    _check_deadline(job, deadline)


class _StopCheck:
    """``_check_stop`` for the engine's long steps: the deadline every call, the database once a second."""

    def __init__(self, job: TrainingJob, deadline: float):
        self.job, self.deadline = job, deadline
        self._asked_at: float | None = None

    def __call__(self) -> None:
        now = time.monotonic()
        if self._asked_at is None or now - self._asked_at >= STOP_CHECK_SECONDS:
            self._asked_at = now
            _check_stop(self.job, self.deadline)
        else:
            _check_deadline(self.job, self.deadline)


def _check_deadline(job: TrainingJob, deadline: float) -> None:
    if time.time() > deadline:
        raise JobStopped(
            TrainingJob.Status.FAILED,
            f"Stopped: the job ran past its time budget of {job.time_budget_seconds} seconds. "
            "Use fewer epochs or a faster method (lora or head), or ask for a larger budget.",
            "time_budget_exceeded",
        )
