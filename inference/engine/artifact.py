"""Model artifacts: a directory of safetensors files plus ``manifest.json`` with a sha256 per file.

Layout by method (every file is listed in the manifest; nothing else in the directory is trusted):
  full, fewshot: config.json + model.safetensors (fine-tuned encoder) + head.safetensors + tokenizer files
  lora: adapter_config.json + adapter_model.safetensors + head.safetensors + tokenizer files
  head: head.safetensors only (the frozen base is loaded from the base model directory at serving time)
A ``runtime`` entry (name, agreement, latency) says how the version is served; a ``full`` version
served by onnxruntime also carries its graph (``model.onnx`` or ``model.int8.onnx``).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from safetensors.torch import save_file

from .basemodels import fingerprint, sha256_file
from .types import WHOLE_MODEL_METHODS, TrainedModel

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
TOKENIZER_FILE = "tokenizer.json"


class ArtifactError(Exception):
    """An artifact directory is missing, incomplete, tampered with or of an unknown format."""


# Every library whose version can change what a version predicts or how it is served and scored.
RECORDED_LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "tokenizers",
    "safetensors",
    "onnx",
    "onnxruntime",
    "numpy",
    "scikit-learn",
    "seqeval",
)


def _library_versions() -> dict:
    """Installed version of each recorded library (by distribution name; None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _contiguous(state: dict) -> dict:
    # safetensors refuses views and shared storage; a clone per tensor is cheap next to the disk write.
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def save(
    trained: TrainedModel,
    directory: str,
    *,
    extra_manifest: dict | None = None,
    extra_files: list[str] | None = None,
) -> dict:
    """Write the artifact for ``trained`` into ``directory`` (created if needed) and return its manifest.

    ``extra_files`` are files already written into ``directory`` (the ONNX graph of the chosen
    runtime) that belong to the artifact: they are listed, with their checksums, like the others.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    model = trained.model
    written: list[str] = []

    save_file(_contiguous(model.head.state_dict()), str(root / HEAD_FILE))
    written.append(HEAD_FILE)
    if trained.method in WHOLE_MODEL_METHODS:
        model.encoder.config.to_json_file(str(root / CONFIG_FILE))
        save_file(_contiguous(model.encoder.state_dict()), str(root / MODEL_FILE))
        written += [CONFIG_FILE, MODEL_FILE]
    elif trained.method == "lora":
        from peft import get_peft_model_state_dict  # seconds to import: LoRA artifacts only

        adapter = get_peft_model_state_dict(model.encoder)
        save_file(_contiguous(adapter), str(root / ADAPTER_FILE))
        model.encoder.peft_config["default"].save_pretrained(str(root))
        written += [ADAPTER_FILE, ADAPTER_CONFIG_FILE]
    elif trained.method != "head":
        raise ArtifactError(f"cannot save method {trained.method!r}")
    for name in extra_files or []:
        if not (root / name).is_file():
            raise ArtifactError(f"extra file {name} is not in {directory}")
        written.append(name)
    if trained.method in (*WHOLE_MODEL_METHODS, "lora"):
        for name in trained.tokenizer.save_pretrained(str(root)):
            written.append(os.path.relpath(name, root))

    manifest = {
        "format_version": FORMAT_VERSION,
        "task": trained.task,
        "method": trained.method,
        "labels": list(trained.labels),
        "max_length": int(trained.max_length),
        "threshold": trained.threshold,
        "base_model": {"id": trained.base_model_id, "fingerprint": fingerprint(trained.base_model_dir)},
        "files": {name: sha256_file(root / name) for name in sorted(set(written))},
        "library_versions": _library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hyperparameters": trained.hyperparameters,
        "train_info": trained.train_info,
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    # Write-then-rename so a crash never leaves a half-written manifest that looks valid.
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True, default=str)
    os.replace(tmp, root / MANIFEST)
    return manifest


def load_manifest(directory: str) -> dict:
    """The parsed manifest of an artifact directory; ArtifactError if absent, unreadable or unknown."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"no {MANIFEST} in {directory}: not a model artifact") from exc
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path} has unsupported format_version {manifest.get('format_version')!r}")
    for key in ("task", "method", "labels", "max_length", "base_model", "files"):
        if key not in manifest:
            raise ArtifactError(f"{path} lacks {key!r}")
    for name in manifest["files"]:
        _inside(Path(directory), name)
    return manifest


def _inside(root: Path, name: str) -> Path:
    """Resolve a manifest file name, refusing anything that escapes the artifact directory."""
    path = (root / name).resolve()
    if root.resolve() not in path.parents:
        raise ArtifactError(f"manifest lists {name!r}, which is outside the artifact directory")
    return path


def verify(directory: str) -> None:
    """Recompute the sha256 of every file in the manifest; ArtifactError on any difference or missing file."""
    root = Path(directory)
    manifest = load_manifest(directory)
    for name, expected in manifest["files"].items():
        path = _inside(root, name)
        if not path.is_file():
            raise ArtifactError(f"missing file {name} in artifact {directory}")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"checksum mismatch for {name} in artifact {directory}: manifest says {expected[:12]}…, "
                f"file has {actual[:12]}… (the file was modified or corrupted)"
            )
