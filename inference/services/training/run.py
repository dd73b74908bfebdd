"""What a training worker does with a claimed job: train, evaluate, export, register.

The engine's loop yields progress; this module turns it into job rows, heartbeats,
cancellation and the time budget, like spaCy's loop hands control to its caller.
"""

from __future__ import annotations

import logging
import tempfile
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from inference.engine import artifact, evaluation
from inference.engine.serving import runtime_choice
from inference.engine.training import TrainingSession, ends_an_epoch
from inference.models import TrainingJob
from inference.selectors.base_models import base_model_dir
from inference.selectors.datasets import dataset_version_to_examples
from inference.services.registry import model_version_create
from tenants.selectors import base_model_get

from .claim import JobLost, owned, worker_name
from .events import job_event
from .heartbeat import Heartbeat

logger = logging.getLogger("scalpel.training")

PROGRESS_WRITE_SECONDS = 1.0
STOP_CHECK_SECONDS = 1.0  # how often the engine's long steps ask the database whether to stop


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
    except JobStopped as stop:
        if _finish(job, stop.status, error=stop.reason, code=stop.code):
            job_event(job, stop.reason, level="warning")
    except Exception as exc:  # noqa: BLE001 - any failure must end the job with a readable reason
        logger.exception("training job %s failed", job.pk)
        reason = _readable_error(exc)
        if _finish(job, TrainingJob.Status.FAILED, error=reason, code="training_failed"):
            job_event(job, f"Failed: {reason}", level="error")
    finally:
        heartbeat.stop()


def _readable_error(exc: Exception) -> str:
    if isinstance(exc, ValueError | artifact.ArtifactError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The worker ran out of memory. Try a smaller batch size or max length, or the 'lora' method."
    return f"An internal error stopped training ({type(exc).__name__}). The platform team has the details."


def _finish(job: TrainingJob, status: str, *, error: str = "", code: str = "", **fields) -> bool:
    """End the job, only while this run still owns it; False when someone else already has."""
    return bool(
        owned(job).update(
            status=status,
            error=error,
            error_code=code,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            **fields,
        )
    )


def _train_evaluate_register(job: TrainingJob) -> None:
    version = job.dataset_version
    dataset = version.dataset
    base = base_model_get(model_id=job.base_model_id)
    if base is None:
        raise ValueError(f"The base model '{job.base_model_id}' is no longer available.")
    examples = dataset_version_to_examples(version)
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
        time_budget_seconds=max(deadline - time.time(), 0.0),
    )
    plan = session.plan
    if not owned(job).update(
        resolved_method=plan.method, method_reason=plan.reason, resolved_hyperparameters=plan.hyperparameters
    ):
        raise JobLost(job.pk)
    job.resolved_method, job.resolved_hyperparameters = plan.method, plan.hyperparameters
    job_event(job, f"Method: {plan.method}. {plan.reason}")
    job_event(job, f"Training on {len(session.train)} examples, validating on {len(session.validation)}.")

    last_write = 0.0
    last_phase = None
    steps = session.run()
    try:
        for progress in steps:
            now = time.monotonic()
            if progress.get("message"):
                job_event(job, progress["message"])
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
    job_event(job, "Evaluating on the test split and training the baseline.")
    test = [ex for ex in examples if ex.split == "test"]
    if not test:
        raise ValueError(
            "The dataset version has no test examples, so the model cannot be evaluated honestly."
        )
    with tempfile.TemporaryDirectory(prefix="scalpel-artifact-") as tmp:
        _evaluate_save_register(job, trained, session, examples, test, deadline, tmp)


def _evaluate_save_register(job, trained, session, examples, test, deadline, tmp) -> None:
    version = job.dataset_version
    dataset = version.dataset
    # Export, agreement checks and evaluation run for minutes on a big split: the engine calls
    # this between chunks, so cancel and the time budget hold there as they do while training.
    check_stop = _StopCheck(job, deadline)
    check_stop()
    # The serving runtime is chosen before evaluating, and evaluation runs on it: the version's
    # reported metrics and predictions are those of the runtime that will answer its requests.
    job_event(job, "Choosing the serving runtime (ONNX export, int8 agreement on the validation split).")
    predictor, runtime_info = runtime_choice.choose_runtime(
        trained,
        tmp,
        [ex.text for ex in session.validation],
        required=settings.SCALPEL_INT8_MIN_AGREEMENT,
        cache_dir=settings.SCALPEL_ONNX_CACHE_DIR,
        latency_texts=[ex.text for ex in test],
        check_stop=check_stop,
    )
    job_event(job, f"Serving runtime: {runtime_info['name']} ({runtime_info.get('reason', '')}).")
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
    job_event(
        job,
        f"Done: {job.model_name} v{model_version.number}, test {headline.get('name')} {headline.get('value', 0):.3f}"
        + (f" (baseline {baseline.get('value', 0):.3f})" if baseline else "")
        + ".",
    )


def _progress_of(job: TrainingJob) -> dict:
    return TrainingJob.objects.filter(pk=job.pk).values_list("progress", flat=True).first() or {}


def _write_progress(job: TrainingJob, progress: dict) -> None:
    clean = {k: v for k, v in progress.items() if k != "message" and v is not None}
    if not owned(job).update(progress=clean, heartbeat_at=timezone.now()):
        raise JobLost(job.pk)


def _check_stop(job: TrainingJob, deadline: float) -> None:
    cancel = owned(job).values_list("cancel_requested", flat=True).first()
    if cancel is None:
        raise JobLost(job.pk)
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
