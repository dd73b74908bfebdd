"""The onnxruntime backend: a version's own graph, or the shared base graph plus the version's head.

Dynamic quantisation computes one activation scale per *tensor*, i.e. over the whole batch: an int8
answer would depend on which other texts shared its batch. int8 graphs therefore run one text at a
time (no padding, no neighbours), so an int8 answer is a function of its text alone, exactly as fp32
answers are (up to float rounding), and micro-batching never changes it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..encoding import Segment
from .predictor import Predictor
from .sessions import as_numpy, row_pool


class OnnxPredictor(Predictor):
    """A Predictor whose forward pass is an onnxruntime session; every answer is shaped by Predictor.

    ``head`` set: the session is the process-wide shared base encoder (``pooled`` or ``hidden``
    states) and this version's own linear head runs in torch on its output.
    """

    def __init__(self, *, session, output: str, int8: bool, head: nn.Module | None = None, **kwargs):
        super().__init__(**kwargs)
        self.session, self.output, self.head = session, output, head
        self.runtime = "onnx-int8" if int8 else "onnx"
        if int8:
            self.batch_size = 1

    def _forward(self, segments: list[Segment]) -> list[torch.Tensor]:
        if self.batch_size != 1 or len(segments) < 2:
            return super()._forward(segments)
        # int8 runs text by text on single-threaded sessions: spread the texts over the cores.
        return list(row_pool().map(lambda seg: self._chunk_probs([seg])[0], segments))

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = torch.from_numpy(self.session.run([self.output], as_numpy(ids, mask))[0])
        return self.head(out) if self.head is not None else out
