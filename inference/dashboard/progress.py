"""A training job's progress row, told as a progress bar: what it is doing, how far, how long left."""

from __future__ import annotations

from dataclasses import dataclass

from inference.engine.training import read_progress
from inference.models import TrainingJob

PHASES = {
    "queued": ("Waiting for a worker", 0),
    "starting": ("Starting", 2),
    "loading": ("Preparing your examples and the base model", 5),
    "training": ("Learning from your examples", None),
    "validating": ("Checking progress on held-out examples", None),
    "evaluating": ("Measuring quality on the test examples", 88),
    "saving": ("Saving the model", 95),
    "done": ("Done", 100),
}
# Share of the bar the training loop fills; the rest is set-up, evaluation and saving.
TRAINING_START, TRAINING_END = 5, 85
EARLY_STOP_NOTE = "stopped early: no further gains"


@dataclass
class Progress:
    active: bool
    percent: int
    phase: str
    epoch: str
    loss: str
    time_label: str  # "Time left" while running, "Took" once finished
    time: str
    status: str
    summary: str  # one line for the compact card: "Done · 3 epochs", "Cancelled at epoch 2", …


def job_progress(job: TrainingJob) -> Progress:
    p = read_progress(job.progress)
    status = job.status
    phase = p.phase or ("queued" if status == TrainingJob.Status.QUEUED else "starting")
    label, fixed = PHASES.get(phase, (phase.capitalize(), None))
    if status == TrainingJob.Status.SUCCEEDED:
        label, percent = "Done", 100
    elif fixed is not None:
        percent = fixed
    else:
        percent = TRAINING_START + round((TRAINING_END - TRAINING_START) * p.training_fraction)
    if status in (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED):
        label = "Cancelled" if status == TrainingJob.Status.CANCELLED else "Failed"
    elif job.cancel_requested and job.is_active:
        label = "Stopping at the next step…"
    epochs, epoch = p.epochs, p.epoch
    if status == TrainingJob.Status.SUCCEEDED:
        epoch = _train_info(job).get("epochs_run") or epoch
    time_left = _time_left(p.eta_seconds)
    return Progress(
        active=job.is_active,
        percent=max(0, min(percent, 100)),
        phase=label,
        epoch=_epoch_text(job, epoch, epochs),
        loss=f"{p.loss:.3f}" if p.loss is not None else "–",
        time_label="Time left" if job.is_active else "Took",
        time=(time_left or "estimating…") if job.is_active else _took(job),
        status=status,
        summary=_summary(job, label, epoch, epochs, time_left),
    )


def _epoch_text(job: TrainingJob, epoch: int, epochs: int) -> str:
    if not epochs:
        return "–"
    if job.status == TrainingJob.Status.SUCCEEDED:
        # Early stopping ends many runs before the planned epochs: say so, but only when the engine
        # reported it, never because a number looks short.
        if _stopped_early(job):
            return f"{epoch} of {epochs} planned ({EARLY_STOP_NOTE})"
        return str(epoch)
    return f"{epoch} of {epochs}"


def _summary(job: TrainingJob, label: str, epoch: int, epochs: int, time_left: str | None) -> str:
    status = job.status
    if status == TrainingJob.Status.SUCCEEDED:
        if not epoch:
            return "Done"
        text = f"Done · {epoch} epoch{'s' if epoch != 1 else ''}"
        return text + f" ({EARLY_STOP_NOTE})" if _stopped_early(job) else text
    if status == TrainingJob.Status.CANCELLED:
        return f"Cancelled at epoch {epoch}" if epoch else "Cancelled before training began"
    if status == TrainingJob.Status.FAILED:
        return _failure(job, epoch)
    if status == TrainingJob.Status.QUEUED or job.cancel_requested:
        return label
    parts = [label]
    if epochs and epoch:
        parts.append(f"epoch {epoch} of {epochs}")
    parts.append(f"{time_left} left" if time_left else "estimating time left…")
    return " · ".join(parts)


def _failure(job: TrainingJob, epoch: int) -> str:
    """The failure reason in one short line (the job page shows the whole message)."""
    where = f" at epoch {epoch}" if epoch else ""
    if job.error_code == "time_budget_exceeded":
        return f"Ran out of time{where} (the limit is {duration(job.time_budget_seconds)})"
    first = (job.error or "").split(". ")[0].rstrip(".").removeprefix("Failed: ")
    return f"Failed{where}: {first}" if first else f"Failed{where}"


def _train_info(job: TrainingJob) -> dict:
    version = job.model_version if job.model_version_id else None
    return ((version.metrics or {}).get("train_info") or {}) if version is not None else {}


def _stopped_early(job: TrainingJob) -> bool:
    return bool(_train_info(job).get("stopped_early"))


def _took(job: TrainingJob) -> str:
    if not (job.started_at and job.finished_at):
        return "–"
    return duration((job.finished_at - job.started_at).total_seconds())


def duration(seconds: float) -> str:
    """A span of time in the words the pages use: "42 s", "15 min", "3 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def _time_left(seconds: float | None) -> str | None:
    """Time left in words ("about 4 min"), or None while the engine has no estimate yet."""
    if seconds is None:
        return None
    seconds = max(0, round(seconds))
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes / 60:.1f} h"
