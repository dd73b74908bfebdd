"""Choosing, at the end of training, the runtime that will serve a new version.

ONNX graphs are exported (``export.py``) and kept only when their answers agree with torch's on the
validation split; int8 is kept only when it agrees with fp32 as well. What was measured is recorded
in the version's manifest (``runtime``), and ``loading.load`` serves the version with it.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from ..export import MODEL_FP32, MODEL_INT8, export_task_model, quantize
from ..types import WHOLE_MODEL_METHODS, TrainedModel
from .onnx_predictor import OnnxPredictor
from .predictor import Predictor, param_bytes
from .sessions import int8_session, session
from .shared import shared_encoder
from .torch_predictor import predictor_from_trained

logger = logging.getLogger("scalpel.engine.onnx")

AGREEMENT_REQUIRED = 0.995
AGREEMENT_CHUNK = 256  # validation texts compared between two stop checks


def label_agreement(a, b, texts: list[str], check_stop: Callable[[], None] | None = None) -> float:
    """Share of ``texts`` on which two predictors give the same answer (label / label set / entities).

    Compared ``AGREEMENT_CHUNK`` texts at a time, with ``check_stop`` (which stops by raising) before each.
    """
    if not texts:
        return 1.0
    first, second = [], []
    for k in range(0, len(texts), AGREEMENT_CHUNK):
        if check_stop is not None:
            check_stop()
        chunk = texts[k : k + AGREEMENT_CHUNK]
        first += a.predict(chunk)
        second += b.predict(chunk)
    same = 0
    for x, y in zip(first, second, strict=True):
        if "entities" in x:
            key = lambda ans: [(e["start"], e["end"], e["label"]) for e in ans["entities"]]  # noqa: E731
        elif "label" in x:
            key = lambda ans: ans["label"]  # noqa: E731
        else:
            key = lambda ans: sorted(lab["label"] for lab in ans["labels"])  # noqa: E731
        same += key(x) == key(y)
    return same / len(texts)


def _one_text_ms(predictor: Predictor, texts: list[str], repeats: int = 10) -> float | None:
    sample = (texts * repeats)[:repeats] if texts else []
    if not sample:
        return None
    predictor.predict(sample[:1])
    times = []
    for text in sample:
        start = time.perf_counter()
        predictor.predict([text])
        times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 3)


def choose_runtime(
    trained: TrainedModel,
    directory: str | Path,
    validation_texts: list[str],
    *,
    required: float = AGREEMENT_REQUIRED,
    cache_dir: str | Path | None = None,
    latency_texts: list[str] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> tuple[Predictor, dict]:
    """Pick how a trained model will be served and return (predictor, info) for that runtime.

    ``full`` and ``fewshot``: export the task graph into ``directory`` (``model.onnx``), quantise it
    (``model.int8.onnx``) and keep only the chosen file. ``head``: the shared base encoder graph
    (from ``cache_dir``) plus the version's head. ``lora``: torch on the shared base (a merged graph
    would be a whole private model per tenant). int8 is chosen only when its answers equal fp32's on
    at least ``required`` of the validation texts, and fp32 ONNX only when it agrees with torch as
    well (on ``AGREEMENT_REQUIRED``); torch otherwise or when export fails. ``info`` is what the version records.
    ``check_stop`` is called between steps and chunks of texts; it ends the choice by raising.
    """
    stop = check_stop or (lambda: None)

    torch_predictor = predictor_from_trained(trained)
    texts = list(validation_texts)
    info: dict = {
        "name": "torch",
        "required_agreement": required,
        "validation_texts": len(texts),
        "agreement": {},
        "latency_ms": {},
    }
    if trained.method not in (*WHOLE_MODEL_METHODS, "head"):
        info["reason"] = "LoRA adapters are served by torch on the process-wide shared base model"
        return torch_predictor, info
    if not texts:
        info["reason"] = "no validation texts to check that ONNX answers agree: torch"
        return torch_predictor, info
    directory = Path(directory)
    stop()
    try:
        candidates = _onnx_candidates(trained, directory, cache_dir)
    except Exception as exc:  # noqa: BLE001 - export problems fall back to torch, never fail training
        logger.warning("ONNX export failed, serving with torch: %s", exc, exc_info=True)
        info["reason"] = f"ONNX export failed ({type(exc).__name__}): torch"
        _discard(directory, (MODEL_FP32, MODEL_INT8))
        return torch_predictor, info
    fp32, int8 = candidates["onnx"], candidates["onnx-int8"]
    onnx_vs_torch = label_agreement(torch_predictor, fp32, texts, stop)
    int8_vs_fp32 = label_agreement(fp32, int8, texts, stop)
    info["agreement"] = {"onnx_vs_torch": onnx_vs_torch, "onnx_int8_vs_onnx": int8_vs_fp32}
    probe = list(latency_texts or texts)[:10]
    stop()
    info["latency_ms"] = {
        "torch": _one_text_ms(torch_predictor, probe),
        "onnx": _one_text_ms(fp32, probe),
        "onnx-int8": _one_text_ms(int8, probe),
    }
    if onnx_vs_torch < AGREEMENT_REQUIRED:
        chosen, reason = torch_predictor, f"ONNX fp32 agreed with torch on only {onnx_vs_torch:.1%}: torch"
    elif int8_vs_fp32 >= required:
        chosen, reason = (
            int8,
            f"int8 agreed with fp32 on {int8_vs_fp32:.1%} of validation (>= {required:.1%})",
        )
    else:
        chosen, reason = (
            fp32,
            f"int8 agreed with fp32 on only {int8_vs_fp32:.1%} of validation (< {required:.1%})",
        )
    info["name"], info["reason"] = chosen.runtime, reason
    if trained.method in WHOLE_MODEL_METHODS:
        keep = {"onnx": MODEL_FP32, "onnx-int8": MODEL_INT8}.get(chosen.runtime)
        _discard(directory, tuple(f for f in (MODEL_FP32, MODEL_INT8) if f != keep))
        info["file"] = keep
    else:
        info["shared_encoder"] = True
    return chosen, info


def runtime_files(info: dict) -> list[str]:
    """Artifact files the chosen runtime needs (listed in the manifest with their checksums)."""
    return [info["file"]] if info.get("file") else []


def _discard(directory: Path, names) -> None:
    for name in names:
        (directory / name).unlink(missing_ok=True)


def _onnx_candidates(trained: TrainedModel, directory: Path, cache_dir) -> dict[str, OnnxPredictor]:
    common = {
        "task": trained.task,
        "labels": trained.labels,
        "method": trained.method,
        "tokenizer": trained.tokenizer,
        "max_length": trained.max_length,
        "threshold": trained.threshold,
    }
    model = trained.model
    out: dict[str, OnnxPredictor] = {}
    if trained.method in WHOLE_MODEL_METHODS:
        fp32 = export_task_model(model, directory / MODEL_FP32)
        int8 = quantize(fp32, directory / MODEL_INT8)
        output = "token_logits" if model.token_level else "logits"
        for name, path, is_int8 in (("onnx", fp32, False), ("onnx-int8", int8, True)):
            out[name] = OnnxPredictor(
                session=int8_session(path) if is_int8 else session(path),
                output=output,
                int8=is_int8,
                private_bytes=path.stat().st_size,
                **common,
            )
        return out
    head = copy.deepcopy(model.head).eval().requires_grad_(False)
    for name, precision in (("onnx", "fp32"), ("onnx-int8", "int8")):
        out[name] = OnnxPredictor(
            session=shared_encoder(trained.base_model_dir, precision, cache_dir),
            output="hidden" if model.token_level else "pooled",
            int8=precision == "int8",
            head=head,
            private_bytes=param_bytes(head.parameters()),
            **common,
        )
    return out
