"""Process-wide shared bases: what every ``head`` and LoRA version of one base model shares.

A frozen torch encoder and its tokenizer per base model, and an onnxruntime session per base model
and precision, each loaded once per process. A version trained on another copy of a base model must
not run on this one: ``base_fingerprint`` is the one check, used by every loader of a shared base.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

from torch import nn

from .. import basemodels
from ..artifact import ArtifactError
from ..export import shared_encoder_path
from .sessions import int8_session, session


def base_fingerprint(base_model_dir: str, expected: str | None = None) -> str:
    """The fingerprint of a base dir; ArtifactError when it is not the ``expected`` one (if given)."""
    fp = basemodels.fingerprint(base_model_dir)
    if expected and fp != expected:
        raise ArtifactError(
            f"base model in {base_model_dir} (fingerprint {fp[:12]}) is not the one this model was "
            f"trained on (fingerprint {expected[:12]})"
        )
    return fp


# -- torch: the frozen encoder and the tokenizer ----------------------------------------------------

_bases: dict[tuple[str, str], tuple[nn.Module, object]] = {}
_tokenizers: dict[tuple[str, str], object] = {}
_bases_lock = threading.Lock()
_hidden: dict[str, int] = {}


def shared_base(base_model_dir: str, expected_fingerprint: str | None = None) -> tuple[nn.Module, object]:
    """The process-wide frozen (encoder, tokenizer) for a base dir, loaded once and shared by predictors."""
    fp = base_fingerprint(base_model_dir, expected_fingerprint)
    key = (str(Path(base_model_dir).resolve()), fp)
    with _bases_lock:
        if key not in _bases:
            encoder = basemodels.load_encoder(base_model_dir).eval()
            for p in encoder.parameters():
                p.requires_grad_(False)
            _bases[key] = (encoder, basemodels.load_tokenizer(base_model_dir))
        return _bases[key]


def shared_base_count() -> int:
    """Shared torch base encoders loaded in this process (LoRA and torch-served head versions)."""
    with _bases_lock:
        return len(_bases)


def shared_base_tokenizer(base_model_dir: str, expected_fingerprint: str | None = None):
    """(fingerprint, tokenizer) of a base dir, loaded once per process, without loading its weights."""
    fp = base_fingerprint(base_model_dir, expected_fingerprint)
    key = (str(Path(base_model_dir).resolve()), fp)
    with _bases_lock:
        if key not in _tokenizers:
            _tokenizers[key] = basemodels.load_tokenizer(base_model_dir)
        return fp, _tokenizers[key]


def twin_sharing_weights(encoder: nn.Module) -> nn.Module:
    """A structural copy of ``encoder`` whose parameters and buffers are the very same tensors.

    LoRA injects wrapper modules into the copy without touching the shared weights, so many tenants'
    adapters can sit on one base in memory.
    """
    memo = {id(t): t for t in list(encoder.parameters()) + list(encoder.buffers())}
    return copy.deepcopy(encoder, memo)


def hidden_size(base_model_dir: str) -> int:
    """Width of the base encoder's states (what a head version's linear layer reads), from its config."""
    if base_model_dir not in _hidden:
        config = json.loads((Path(base_model_dir) / "config.json").read_text())
        _hidden[base_model_dir] = int(config.get("hidden_size") or config.get("dim"))
    return _hidden[base_model_dir]


# -- onnxruntime: the base encoder graph, one session per base model and precision -----------------

_shared: dict[tuple[str, str], tuple[object, int]] = {}
_shared_lock = threading.Lock()


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
