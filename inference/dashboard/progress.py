"""A training job's progress row, told as a progress bar: what it is doing, how far, how long left."""

from __future__ import annotations

from dataclasses import dataclass

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


def job_progress(job: TrainingJob) -> Progress:
    p = job.progress or {}
    phase = p.get("phase") or ("queued" if job.status == TrainingJob.Status.QUEUED else "starting")
    label, fixed = PHASES.get(phase, (phase.capitalize(), None))
    if job.status == TrainingJob.Status.SUCCEEDED:
        label, percent = "Done", 100
    elif fixed is not None:
        percent = fixed
    else:
        percent = TRAINING_START + round((TRAINING_END - TRAINING_START) * _training_fraction(p))
    if job.status in (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED):
        label = "Cancelled" if job.status == TrainingJob.Status.CANCELLED else "Failed"
    elif job.cancel_requested and job.is_active:
        label = "Stopping at the next step…"
    epochs, epoch = p.get("epochs"), p.get("epoch") or 0
    if not epochs:
        epoch_text = "–"
    elif job.is_active:
        epoch_text = f"{epoch} of {epochs}"
    else:
        # Early stopping ends most runs before the planned epochs: say so rather than "19 of 300".
        epoch_text = f"{epoch} (stopped early: no further gains)" if 0 < epoch < epochs else str(epoch)
    return Progress(
        active=job.is_active,
        percent=max(0, min(percent, 100)),
        phase=label,
        epoch=epoch_text,
        loss=f"{p['loss']:.3f}" if isinstance(p.get("loss"), int | float) else "–",
        time_label="Time left" if job.is_active else "Took",
        time=_time_left(p.get("eta_seconds")) if job.is_active else _took(job),
        status=job.status,
    )


def _took(job: TrainingJob) -> str:
    if not (job.started_at and job.finished_at):
        return "–"
    seconds = (job.finished_at - job.started_at).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _training_fraction(p: dict) -> float:
    total, step = p.get("total_steps") or 0, p.get("step") or 0
    if total:
        return min(step / total, 1.0)
    epochs, epoch = p.get("epochs") or 0, p.get("epoch") or 0
    return min(epoch / epochs, 1.0) if epochs else 0.0


def _time_left(seconds) -> str:
    if not isinstance(seconds, int | float):
        return "estimating…"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes / 60:.1f} h"
