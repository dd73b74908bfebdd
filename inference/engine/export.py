"""ONNX export: a task model or a bare base encoder to an ONNX graph, and a graph to int8.

Three graphs exist:

* a *task graph* per ``full`` version: encoder + pooling + head -> logits (``model.onnx`` or the
  int8 ``model.int8.onnx`` in the artifact);
* the *shared base graph* per base model: encoder + mean pooling -> (token states, pooled
  embedding), used by every ``head`` version, whose per-tenant linear head stays a tiny torch
  matrix (that is what lets one node hold a thousand tenants' models); it is exported once per
  machine into a cache folder (``shared_encoder_path``);
* their int8 twins, from onnxruntime's dynamic quantisation (per-channel, MatMul only: the variant
  that disagreed least with fp32 here).

Which graph serves a version is chosen in ``serving/runtime_choice.py``; how int8 graphs are run
(one text at a time) is in ``serving/onnx_predictor.py``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from . import basemodels
from .basemodels import TaskModel

MODEL_FP32 = "model.onnx"
MODEL_INT8 = "model.int8.onnx"
OPSET = 17


class _Logits(nn.Module):
    """TaskModel in eval mode, returning logits only (dropout is identity in eval)."""

    def __init__(self, model: TaskModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.head(self.model.features(input_ids, attention_mask))


class _Encoder(nn.Module):
    """The bare encoder plus mean pooling: (token states, pooled sentence embedding)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return hidden, pooled


def _export(module: nn.Module, path: Path, outputs: list[str]) -> None:
    module = module.eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    for name in outputs:
        axes[name] = {0: "batch", 1: "sequence"} if name in ("hidden", "token_logits") else {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes that the dynamic axes cover
        torch.onnx.export(
            module,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def export_task_model(model: TaskModel, path: str | Path) -> Path:
    """Write the fp32 graph of a whole task model (logits out) to ``path``."""
    path = Path(path)
    was_training = model.training
    model.eval()
    try:
        _export(_Logits(model), path, ["token_logits" if model.token_level else "logits"])
    finally:
        model.train(was_training)
    return path


def export_encoder(encoder: nn.Module, path: str | Path) -> Path:
    """Write the fp32 graph of a bare encoder with mean pooling (outputs ``hidden`` and ``pooled``)."""
    path = Path(path)
    _export(_Encoder(encoder), path, ["hidden", "pooled"])
    return path


def quantize(fp32_path: str | Path, int8_path: str | Path) -> Path:
    """Dynamic int8 quantisation of the MatMul weights, per output channel."""
    # onnxruntime is optional (torch serves every artifact without it): imported only when used.
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = Path(int8_path)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint to the root logger
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
        )
    finally:
        root.setLevel(level)
    return int8_path


def default_cache_dir() -> Path:
    env = os.environ.get("SCALPEL_ONNX_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "scalpel" / "onnx"


def shared_encoder_path(base_model_dir: str, precision: str, cache_dir: str | Path | None = None) -> Path:
    """The base encoder's graph on disk (exported, and quantised, once per machine; atomic writes)."""
    fp = basemodels.fingerprint(base_model_dir)
    folder = Path(cache_dir or default_cache_dir()) / fp[:32]
    fp32 = folder / "encoder.onnx"
    int8 = folder / "encoder.int8.onnx"
    target = int8 if precision == "int8" else fp32
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.is_file():
        encoder = basemodels.load_encoder(base_model_dir).eval()
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            export_encoder(encoder, Path(tmp) / "encoder.onnx")
            os.replace(Path(tmp) / "encoder.onnx", fp32)
    if precision == "int8" and not int8.is_file():
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            quantize(fp32, Path(tmp) / "encoder.int8.onnx")
            os.replace(Path(tmp) / "encoder.int8.onnx", int8)
    return target
