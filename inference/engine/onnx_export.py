"""ONNX serving: export a task model (or the shared base encoder) to ONNX, quantise it, check agreement.

Three graphs exist:

* a *task graph* per ``full`` version: encoder + pooling + head -> logits (``model.onnx`` or the
  int8 ``model.int8.onnx`` in the artifact);
* the *shared base graph* per base model and process: encoder + mean pooling -> (token states,
  pooled embedding), used by every ``head`` version, whose per-tenant linear head stays a tiny torch
  matrix (that is what lets one node hold a thousand tenants' models);
* their int8 twins, from onnxruntime's dynamic quantisation (per-channel, MatMul only: the variant
  that disagreed least with fp32 here).

Dynamic quantisation computes one activation scale per *tensor*, i.e. over the whole batch: an int8
answer would depend on which other texts shared its batch. ``OnnxPredictor`` therefore runs int8
graphs one text at a time (no padding, no neighbours), so an int8 answer is a function of its text
alone, exactly as fp32 answers are (up to float rounding), and micro-batching never changes it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import basemodels
from .basemodels import TaskModel

logger = logging.getLogger("scalpel.engine.onnx")

MODEL_FP32 = "model.onnx"
MODEL_INT8 = "model.int8.onnx"
OPSET = 17
AGREEMENT_REQUIRED = 0.995
RUNTIMES = ("onnx-int8", "onnx", "torch")
AGREEMENT_CHUNK = 256  # validation texts compared between two stop checks


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
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = Path(int8_path)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint to the root logger
    try:
        _quantize_dynamic(quantize_dynamic, QuantType, fp32_path, int8_path)
    finally:
        root.setLevel(level)
    return int8_path


def _quantize_dynamic(quantize_dynamic, QuantType, fp32_path, int8_path) -> None:  # noqa: N803
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        weight_type=QuantType.QInt8,
    )


_int8_threads: int | None = None  # this process's choice, made once (see ``int8_session``)
_int8_lock = threading.Lock()
# A typical short request (about 16 tokens): what the choice is timed on.
_PROBE_IDS = np.array([[101] + [7592 + i for i in range(14)] + [102]], dtype=np.int64)


def int8_session(path: str | Path):
    """An onnxruntime session for an int8 graph, with the intra-op threads that answer a lone text
    fastest on this machine.

    int8 graphs run one text per call (see ``OnnxPredictor``), and the numbers are the same on any
    thread count (the work is split across rows, never across a sum). Whether a second core helps
    depends on the CPU: on one 2-core machine it took a lone text to 0.7x the time of one thread, on
    another to 1.45x (a small graph's ops finish before a sleeping pool thread wakes up). So the first
    int8 session of a process times both on a short text and keeps the faster; later sessions reuse
    that choice. ``SCALPEL_ONNX_INT8_THREADS`` fixes it instead. Several texts run side by side
    (``row_pool``) and share the cores either way.
    """
    global _int8_threads
    env = os.environ.get("SCALPEL_ONNX_INT8_THREADS")
    if env:
        return session(path, threads=int(env))
    with _int8_lock:
        if _int8_threads is None:
            cores = _cores()
            if cores == 1:
                _int8_threads = 1
            else:
                one, every = session(path, threads=1), session(path, threads=cores)
                faster_one = _one_text_seconds(one) <= _one_text_seconds(every)
                _int8_threads = 1 if faster_one else cores
                logger.info("int8 sessions use %s intra-op thread(s) for a lone text", _int8_threads)
                return one if faster_one else every
    return session(path, threads=_int8_threads)


def int8_threads() -> int | None:
    """The intra-op threads of this process's int8 sessions (None before the first is made)."""
    return int(os.environ.get("SCALPEL_ONNX_INT8_THREADS") or 0) or _int8_threads


def _one_text_seconds(sess, runs: int = 12) -> float:
    """Median seconds of one short text through ``sess`` (after a warm-up)."""
    import time

    names = {i.name for i in sess.get_inputs()}
    feed = {"input_ids": _PROBE_IDS, "attention_mask": np.ones_like(_PROBE_IDS)}
    feed = {k: v for k, v in feed.items() if k in names}
    for _ in range(3):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session with a bounded intra-op pool (sessions are thread-safe to run).

    The pool's threads never spin waiting for work, which would take the cores from the web threads
    that feed them.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or os.environ.get("SCALPEL_ONNX_THREADS") or _cores())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


_pool = None
_pool_lock = threading.Lock()


def row_pool():
    """Process-wide threads (one per core) that run int8 texts side by side."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="onnx-row")
        return _pool


def _cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


# -- the shared base encoder graph, one per base model and precision in a process ------------------

_shared: dict[tuple[str, str], object] = {}
_shared_lock = threading.Lock()


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


def shared_encoder(base_model_dir: str, precision: str, cache_dir: str | Path | None = None):
    """The process-wide onnxruntime session of a base encoder at ``precision`` ('fp32' or 'int8')."""
    key = (str(Path(base_model_dir).resolve()), precision)
    with _shared_lock:
        if key not in _shared:
            path = shared_encoder_path(base_model_dir, precision, cache_dir)
            _shared[key] = (
                int8_session(path) if precision == "int8" else session(path),
                path.stat().st_size,
            )
        return _shared[key][0]


def shared_encoder_stats() -> dict:
    """Shared base graphs loaded in this process and the bytes of their weights (file size)."""
    with _shared_lock:
        return {
            "shared_encoders": len(_shared),
            "shared_encoder_bytes": sum(size for _, size in _shared.values()),
        }


# -- agreement --------------------------------------------------------------------------------------


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


def as_numpy(ids: torch.Tensor, mask: torch.Tensor) -> dict:
    return {"input_ids": ids.numpy().astype(np.int64), "attention_mask": mask.numpy().astype(np.int64)}


# -- choosing the serving runtime of a freshly trained model ----------------------------------------


def _one_text_ms(predictor, texts: list[str], repeats: int = 10) -> float | None:
    import statistics
    import time

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
    trained,
    directory: str | Path,
    validation_texts: list[str],
    *,
    required: float = AGREEMENT_REQUIRED,
    cache_dir: str | Path | None = None,
    latency_texts: list[str] | None = None,
    check_stop: Callable[[], None] | None = None,
):
    """Pick how a trained model will be served and return (predictor, info) for that runtime.

    ``full``: export the task graph into ``directory`` (``model.onnx``), quantise it
    (``model.int8.onnx``) and keep only the chosen file. ``head``: the shared base encoder graph
    (from ``cache_dir``) plus the version's head. ``lora``: torch on the shared base (a merged graph
    would be a whole private model per tenant). int8 is chosen only when its answers equal fp32's on
    at least ``required`` of the validation texts, and fp32 ONNX only when it agrees with torch as
    well (on ``AGREEMENT_REQUIRED``); torch otherwise or when export fails. ``info`` is what the version records.
    ``check_stop`` is called between steps and chunks of texts; it ends the choice by raising.
    """
    from . import runtime as rt

    stop = check_stop or (lambda: None)

    torch_predictor = rt.predictor_from_trained(trained)
    texts = list(validation_texts)
    info: dict = {
        "name": "torch",
        "required_agreement": required,
        "validation_texts": len(texts),
        "agreement": {},
        "latency_ms": {},
    }
    if trained.method not in ("full", "head"):
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
    if trained.method == "full":
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


def _onnx_candidates(trained, directory: Path, cache_dir) -> dict:
    from . import runtime as rt

    common = {
        "task": trained.task,
        "labels": trained.labels,
        "method": trained.method,
        "tokenizer": trained.tokenizer,
        "max_length": trained.max_length,
        "threshold": trained.threshold,
    }
    model = trained.model
    out: dict = {}
    if trained.method == "full":
        fp32 = export_task_model(model, directory / MODEL_FP32)
        int8 = quantize(fp32, directory / MODEL_INT8)
        output = "token_logits" if model.token_level else "logits"
        for name, path, is_int8 in (("onnx", fp32, False), ("onnx-int8", int8, True)):
            out[name] = rt.OnnxPredictor(
                session=int8_session(path) if is_int8 else session(path),
                output=output,
                int8=is_int8,
                private_bytes=path.stat().st_size,
                **common,
            )
        return out
    import copy as _copy

    head = _copy.deepcopy(model.head).eval().requires_grad_(False)
    for name, precision in (("onnx", "fp32"), ("onnx-int8", "int8")):
        out[name] = rt.OnnxPredictor(
            session=shared_encoder(trained.base_model_dir, precision, cache_dir),
            output="hidden" if model.token_level else "pooled",
            int8=precision == "int8",
            head=head,
            private_bytes=rt.param_bytes(head.parameters()),
            **common,
        )
    return out
