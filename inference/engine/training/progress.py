"""What a training run reports as it goes (``TrainingProgress``), and the one reader of a stored report.

``TrainingSession.run`` yields a ``TrainingProgress`` after every optimisation step and at each
phase change, as spaCy's training loop yields its ``info``; the caller decides what to keep. The
worker stores it on the job row without ``message`` (that goes to the job's event log) and without
the keys whose value is None, and writes phases of its own around training. Whatever shows a stored
row (the dashboard's progress bar, the admin's progress column) reads it with ``read_progress``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

# How the messages that close an epoch begin: its summary, or the early stop that follows it.
EPOCH_END_PREFIXES = ("epoch ", "Stopping early:")


class TrainingProgress(TypedDict):
    """One progress event; the engine always yields every key.

    ============================ ===============================================================
    ``phase``                    ``loading`` (base model, encoding, ``head`` features),
                                 ``training``, ``validating`` or ``done``; a stored row may also
                                 be in the worker's ``queued``, ``starting``, ``evaluating`` or
                                 ``saving``
    ``epoch`` / ``epochs``       the epoch under way (from 1; 0 while loading) / epochs planned
                                 (early stopping may end the run sooner)
    ``step`` / ``total_steps``   optimisation steps taken / planned
    ``loss``                     mean training loss of the epoch so far (None before a step)
    ``val_metric``               latest validation score (None before the first validation)
    ``val_metric_name``          ``accuracy``, ``micro_f1`` or ``f1``, by task
    ``examples_per_second``      training throughput so far (None before a step)
    ``eta_seconds``              estimated seconds of training and validation left
    ``message``                  a line for the job's event log, or None
    ============================ ===============================================================
    """

    phase: str
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float | None
    val_metric: float | None
    val_metric_name: str
    examples_per_second: float | None
    eta_seconds: float | None
    message: str | None


def ends_an_epoch(progress: Mapping[str, Any]) -> bool:
    """Whether a progress event closes an epoch: a caller that throttles its writes must still
    write these."""
    return (progress.get("message") or "").startswith(EPOCH_END_PREFIXES)


@dataclass(frozen=True)
class ProgressReading:
    """A stored progress row, read once: figures typed, None where absent (counts 0)."""

    phase: str | None
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float | None
    val_metric: float | None
    val_metric_name: str | None
    examples_per_second: float | None
    eta_seconds: float | None

    @property
    def training_fraction(self) -> float:
        """Share of the training loop done, 0 to 1: by steps when known, else by epochs."""
        if self.total_steps:
            return min(self.step / self.total_steps, 1.0)
        return min(self.epoch / self.epochs, 1.0) if self.epochs else 0.0

    def line(self) -> str:
        """Every figure in one line: 'training · epoch 1/3 · step 40/120 · loss 0.812 · …'."""
        parts = [self.phase or ""]
        if self.epochs:
            parts.append(f"epoch {self.epoch}/{self.epochs}")
        if self.total_steps:
            parts.append(f"step {self.step}/{self.total_steps}")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.3f}")
        if self.val_metric is not None:
            name = (self.val_metric_name or "metric").replace("_", " ")
            parts.append(f"val {name} {self.val_metric:.3f}")
        if self.examples_per_second:
            parts.append(f"{self.examples_per_second:.0f} ex/s")
        if self.eta_seconds is not None:
            parts.append(f"{int(self.eta_seconds)} s left")
        return " · ".join(x for x in parts if x)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_progress(stored: Mapping[str, Any] | None) -> ProgressReading:
    """Read a progress row as stored on a job (any subset of ``TrainingProgress``, or nothing yet)."""
    p = stored or {}
    return ProgressReading(
        phase=p.get("phase") or None,
        epoch=int(_number(p.get("epoch")) or 0),
        epochs=int(_number(p.get("epochs")) or 0),
        step=int(_number(p.get("step")) or 0),
        total_steps=int(_number(p.get("total_steps")) or 0),
        loss=_number(p.get("loss")),
        val_metric=_number(p.get("val_metric")),
        val_metric_name=p.get("val_metric_name") or None,
        examples_per_second=_number(p.get("examples_per_second")),
        eta_seconds=_number(p.get("eta_seconds")),
    )
