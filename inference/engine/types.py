"""Value types shared by every engine module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

TASKS = ("classification", "multilabel", "extraction")
# Training methods whose artifact holds the whole fine-tuned encoder (saved, exported and served alike).
WHOLE_MODEL_METHODS = ("full", "fewshot")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Span:
    """A labelled character span: ``text[start:end]`` is the entity."""

    start: int
    end: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


@dataclass
class Example:
    """One labelled example, whatever file format it came from.

    Exactly one of ``label`` (classification), ``labels`` (multilabel) or ``entities``
    (extraction) carries the annotation. For extraction, ``tokens`` keeps the word sequence
    when the source was pre-tokenised (CoNLL, ``tokens``/``tags`` JSONL); ``text`` is then
    the tokens joined by single spaces and entity offsets point into it.
    """

    text: str
    label: str | None = None
    labels: list[str] | None = None
    entities: list[Span] | None = None
    tokens: list[str] | None = None
    split: str | None = None
    line: int | None = None


@dataclass
class RowError:
    """A problem with one row of an uploaded file, phrased for the person who must fix it."""

    line: int | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


@dataclass
class Finding:
    """A dataset-level observation: ``severity`` is ``error`` (blocks import/training),
    ``warning`` or ``info``."""

    code: str
    severity: str
    message: str
    count: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "details": self.details,
        }


@dataclass
class TrainedModel:
    """A trained model in memory: what evaluation, ``artifact.save`` and serving need."""

    task: str
    labels: list[str]
    method: str
    model: nn.Module
    tokenizer: Any
    max_length: int
    base_model_dir: str
    base_model_id: str
    threshold: float | None
    hyperparameters: dict
    train_info: dict = field(default_factory=dict)
