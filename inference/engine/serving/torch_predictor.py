"""The torch backend: a ``TaskModel`` in memory answers; training validates through it too."""

from __future__ import annotations

import torch

from ..basemodels import TaskModel
from ..types import WHOLE_MODEL_METHODS, TrainedModel
from .predictor import Predictor, param_bytes


class TorchPredictor(Predictor):
    """A Predictor whose forward pass is a torch ``TaskModel`` (its own, or adapters on a shared base)."""

    runtime = "torch"

    def __init__(self, *, model: TaskModel, device=None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        # A ``TrainingDevice`` while training validates on a GPU; None: the model's own (the CPU).
        self.device = device

    def memory_bytes(self) -> int:
        """Bytes of parameters held by this predictor alone; all of them unless told otherwise."""
        if self._private_bytes is not None:
            return self._private_bytes
        return param_bytes(list(self.model.parameters()) + list(self.model.buffers()))

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.device is None:
            return self.model(ids, mask)
        with self.device.autocast():
            logits = self.model(self.device.put(ids), self.device.put(mask))
        return self.device.host(logits.float())


def private_param_bytes(model: TaskModel, method: str) -> int:
    """Bytes of the parameters specific to one trained model: all of them for full, else adapter + head."""
    if method in WHOLE_MODEL_METHODS:
        return param_bytes(list(model.parameters()) + list(model.buffers()))
    own = [p for n, p in model.named_parameters() if n.startswith("head.") or "lora_" in n]
    return param_bytes(own)


def predictor_from_trained(trained: TrainedModel) -> TorchPredictor:
    """Wrap a freshly trained model; evaluation uses this so it answers exactly as serving will."""
    trained.model.eval()
    return TorchPredictor(
        task=trained.task,
        labels=trained.labels,
        method=trained.method,
        model=trained.model,
        tokenizer=trained.tokenizer,
        max_length=trained.max_length,
        threshold=trained.threshold,
        private_bytes=private_param_bytes(trained.model, trained.method),
    )
