"""Loading an artifact for serving: which runtime serves it, then one loader per (runtime, method).

The runtime recorded in the manifest (``onnx-int8``, ``onnx`` or ``torch``; older artifacts have
none and are torch) is used unless the caller overrides it; torch is the fallback when onnxruntime
is not installed. ``LOADERS`` maps each (runtime, method) pair to the function that builds its
predictor: a new runtime or method is one more entry there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from .. import basemodels
from ..artifact import (
    ADAPTER_CONFIG_FILE,
    ADAPTER_FILE,
    CONFIG_FILE,
    HEAD_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    ArtifactError,
    load_manifest,
    verify,
)
from ..basemodels import TaskModel
from ..encoding import tag_names
from ..export import MODEL_FP32, MODEL_INT8
from .onnx_predictor import OnnxPredictor
from .predictor import Predictor, param_bytes
from .sessions import int8_session, session
from .shared import hidden_size, shared_base, shared_base_tokenizer, shared_encoder, twin_sharing_weights
from .torch_predictor import TorchPredictor, private_param_bytes

logger = logging.getLogger("scalpel.engine.runtime")

ONNX_RUNTIMES = ("onnx", "onnx-int8")


@dataclass(frozen=True)
class ArtifactToLoad:
    """What a loader reads: the artifact's manifest and files, and where shared bases come from."""

    directory: str
    manifest: dict
    base_model_dir: str | None
    onnx_cache_dir: str | None

    def path(self, name: str) -> Path:
        """A file of the artifact; only files listed in its manifest are ever read."""
        if name not in self.manifest["files"]:
            raise ArtifactError(f"artifact {self.directory} lacks {name} in its manifest")
        return Path(self.directory) / name

    @property
    def token_level(self) -> bool:
        return self.manifest["task"] == "extraction"

    @property
    def num_outputs(self) -> int:
        labels = self.manifest["labels"]
        return len(tag_names(labels)) if self.token_level else len(labels)

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the base model the version was trained on."""
        return self.manifest["base_model"].get("fingerprint")

    def base_dir(self) -> str:
        """The base model directory for versions that run on a shared base."""
        if self.base_model_dir:
            return self.base_model_dir
        base_id = self.manifest["base_model"].get("id")
        if base_id != basemodels.DEFAULT_BASE_MODEL_ID:
            raise ArtifactError(f"model needs base model {base_id!r}: pass base_model_dir")
        return basemodels.default_base_model_dir()

    def predictor_options(self) -> dict:
        """What every predictor of this artifact is told, whatever its backend."""
        m = self.manifest
        return {
            "task": m["task"],
            "labels": m["labels"],
            "method": m["method"],
            "max_length": m["max_length"],
            "threshold": m.get("threshold"),
        }

    def own_tokenizer(self):
        """The tokenizer saved with the version (``full``, ``fewshot`` and ``lora``)."""
        return basemodels.load_tokenizer(str(self.path(TOKENIZER_FILE).parent))

    def head_state(self) -> dict:
        state = load_file(str(self.path(HEAD_FILE)))
        return {"weight": state["weight"], "bias": state["bias"]}


# -- torch ----------------------------------------------------------------------------------------


def _torch_predictor(a: ArtifactToLoad, encoder: nn.Module, tokenizer, *, on_shared_base: bool):
    model = TaskModel(encoder, a.num_outputs, token_level=a.token_level)
    model.head.load_state_dict(a.head_state())
    # A version on a shared base holds only its adapter and head; a full one holds every weight.
    private = private_param_bytes(model, a.manifest["method"]) if on_shared_base else None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return TorchPredictor(model=model, tokenizer=tokenizer, private_bytes=private, **a.predictor_options())


def _torch_full(a: ArtifactToLoad) -> Predictor:
    encoder = basemodels.encoder_from_config(str(a.path(CONFIG_FILE).parent))
    encoder.load_state_dict(load_file(str(a.path(MODEL_FILE))))
    return _torch_predictor(a, encoder, a.own_tokenizer(), on_shared_base=False)


def _torch_lora(a: ArtifactToLoad) -> Predictor:
    # peft takes seconds to import: a process pays for it with its first LoRA version only.
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    base, _ = shared_base(a.base_dir(), a.fingerprint)
    encoder = twin_sharing_weights(base)
    config = LoraConfig.from_pretrained(str(a.path(ADAPTER_CONFIG_FILE).parent))
    inject_adapter_in_model(config, encoder)
    result = set_peft_model_state_dict(encoder, load_file(str(a.path(ADAPTER_FILE))))
    if getattr(result, "unexpected_keys", None):
        raise ArtifactError(f"adapter in {a.directory} does not fit the base model")
    return _torch_predictor(a, encoder, a.own_tokenizer(), on_shared_base=True)


def _torch_head(a: ArtifactToLoad) -> Predictor:
    encoder, tokenizer = shared_base(a.base_dir(), a.fingerprint)
    return _torch_predictor(a, encoder, tokenizer, on_shared_base=True)


# -- onnxruntime ----------------------------------------------------------------------------------


def _onnx_full(a: ArtifactToLoad, *, int8: bool) -> Predictor:
    graph = a.path(MODEL_INT8 if int8 else MODEL_FP32)
    return OnnxPredictor(
        session=int8_session(graph) if int8 else session(graph),
        output="token_logits" if a.token_level else "logits",
        int8=int8,
        tokenizer=a.own_tokenizer(),
        private_bytes=graph.stat().st_size,
        **a.predictor_options(),
    )


def _onnx_head(a: ArtifactToLoad, *, int8: bool) -> Predictor:
    base_dir = a.base_dir()
    _, base_tokenizer = shared_base_tokenizer(base_dir, a.fingerprint)
    head = nn.Linear(hidden_size(base_dir), a.num_outputs)
    head.load_state_dict(a.head_state())
    head.eval().requires_grad_(False)
    return OnnxPredictor(
        session=shared_encoder(base_dir, "int8" if int8 else "fp32", a.onnx_cache_dir),
        output="hidden" if a.token_level else "pooled",
        int8=int8,
        head=head,
        tokenizer=base_tokenizer,
        private_bytes=param_bytes(head.parameters()),
        **a.predictor_options(),
    )


LOADERS: dict[tuple[str, str], Callable[[ArtifactToLoad], Predictor]] = {
    ("torch", "full"): _torch_full,
    ("torch", "lora"): _torch_lora,
    ("torch", "head"): _torch_head,
    ("onnx", "full"): functools.partial(_onnx_full, int8=False),
    ("onnx-int8", "full"): functools.partial(_onnx_full, int8=True),
    ("onnx", "head"): functools.partial(_onnx_head, int8=False),
    ("onnx-int8", "head"): functools.partial(_onnx_head, int8=True),
    # No ("onnx", "lora"): a merged graph would be a whole private model per tenant.
    # A fewshot version is a whole fine-tuned encoder plus a head, like full.
    ("torch", "fewshot"): _torch_full,
    ("onnx", "fewshot"): functools.partial(_onnx_full, int8=False),
    ("onnx-int8", "fewshot"): functools.partial(_onnx_full, int8=True),
}


def runtime_to_serve(manifest: dict, requested: str | None, directory: str) -> str:
    """The runtime that will serve an artifact: ``requested``, else the manifest's, else torch."""
    chosen = requested or (manifest.get("runtime") or {}).get("name") or "torch"
    if chosen not in ONNX_RUNTIMES:
        return "torch"  # torch serves every method, so a runtime this engine does not know falls back to it
    try:  # only whether it is installed: an ONNX runtime is optional
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.warning("onnxruntime is not installed: serving %s with torch", directory)
        return "torch"
    return chosen


def load(
    directory: str,
    *,
    base_model_dir: str | None = None,
    verify_checksums: bool = True,
    runtime: str | None = None,
    onnx_cache_dir: str | None = None,
) -> Predictor:
    """Load an artifact written by ``artifact.save``; only files listed in its manifest are read.

    ``runtime`` overrides the one recorded in the manifest; ``base_model_dir`` is where the shared
    base of a ``head`` or LoRA version is (the default base model when not given).
    """
    manifest = load_manifest(directory)
    if verify_checksums:
        verify(directory)
    chosen, method = runtime_to_serve(manifest, runtime, directory), manifest["method"]
    loader = LOADERS.get((chosen, method))
    if loader is None:
        if chosen == "torch":
            raise ArtifactError(f"unknown method {method!r} in {directory}/manifest.json")
        raise ArtifactError(f"runtime {chosen!r} does not serve method {method!r} ({directory})")
    return loader(ArtifactToLoad(directory, manifest, base_model_dir, onnx_cache_dir))
