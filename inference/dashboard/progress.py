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
    time_left: str
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
    epochs = p.get("epochs")
    return Progress(
        active=job.is_active,
        percent=max(0, min(percent, 100)),
        phase=label,
        epoch=f"{p.get('epoch') or 0} of {epochs}" if epochs else "–",
        loss=f"{p['loss']:.3f}" if isinstance(p.get("loss"), int | float) else "–",
        time_left=_time_left(p.get("eta_seconds")) if job.is_active else "–",
        status=job.status,
    )


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
