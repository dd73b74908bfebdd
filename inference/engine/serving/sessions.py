"""onnxruntime sessions: bounded CPU thread pools, the int8 thread choice, and the row pool.

onnxruntime is imported only when a session is made: torch serves every artifact without it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger("scalpel.engine.onnx")

_int8_threads: int | None = None  # this process's choice, made once (see ``int8_session``)
_int8_lock = threading.Lock()
# A typical short request (about 16 tokens): what the choice is timed on.
_PROBE_IDS = np.array([[101] + [7592 + i for i in range(14)] + [102]], dtype=np.int64)


def session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session with a bounded intra-op pool (sessions are thread-safe to run).

    The pool's threads never spin waiting for work, which would take the cores from the web threads
    that feed them.
    """
    # onnxruntime is optional (torch serves every artifact without it): imported only when used.
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or os.environ.get("SCALPEL_ONNX_THREADS") or _cores())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


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


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def row_pool() -> ThreadPoolExecutor:
    """Process-wide threads (one per core) that run int8 texts side by side."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="onnx-row")
        return _pool


def _cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


def as_numpy(ids: torch.Tensor, mask: torch.Tensor) -> dict:
    """A padded batch as an onnxruntime feed."""
    return {"input_ids": ids.numpy().astype(np.int64), "attention_mask": mask.numpy().astype(np.int64)}
