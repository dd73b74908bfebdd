"""Artifacts: manifest contents, checksums, tampering, and base-model directory checks."""

from __future__ import annotations

import json
import shutil
from importlib import metadata

import pytest

from inference.engine import artifact
from inference.engine.artifact import ArtifactError
from inference.engine.basemodels import check_base_model_dir, default_base_model_dir, fingerprint
from inference.engine.serving import loading

from .conftest import trained


@pytest.fixture(scope="module")
def lora():
    return trained("cls-lora")


def test_manifest_lists_every_file_with_its_checksum(lora, tmp_path):
    manifest = artifact.save(lora, str(tmp_path), extra_manifest={"dataset_version": 3})
    assert manifest == artifact.load_manifest(str(tmp_path))
    assert (
        manifest["format_version"] == 1
        and manifest["task"] == "classification"
        and manifest["method"] == "lora"
    )
    assert manifest["base_model"] == {"id": "minilm-l6", "fingerprint": fingerprint(default_base_model_dir())}
    # Every library that shapes what the version predicts, or how it is exported and scored.
    assert manifest["library_versions"] == {
        name: metadata.version(name)
        for name in (
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
    }
    assert manifest["dataset_version"] == 3 and manifest["created_at"]
    assert {"adapter_model.safetensors", "adapter_config.json", "head.safetensors", "tokenizer.json"} <= set(
        manifest["files"]
    )
    assert (tmp_path / "adapter_model.safetensors").stat().st_size < 1_000_000
    on_disk = {p.name for p in tmp_path.iterdir()} - {"manifest.json"}
    assert on_disk == set(manifest["files"])
    artifact.verify(str(tmp_path))


def test_tampered_file_fails_verify_and_load(lora, tmp_path):
    artifact.save(lora, str(tmp_path))
    target = tmp_path / "head.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch for head.safetensors"):
        artifact.verify(str(tmp_path))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        loading.load(str(tmp_path))


def test_missing_file_and_escaping_paths(lora, tmp_path):
    artifact.save(lora, str(tmp_path))
    (tmp_path / "adapter_model.safetensors").unlink()
    with pytest.raises(ArtifactError, match="missing file adapter_model.safetensors"):
        artifact.verify(str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["files"]["../outside"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside the artifact directory"):
        artifact.load_manifest(str(tmp_path))
    with pytest.raises(ArtifactError, match="not a model artifact"):
        artifact.load_manifest(str(tmp_path / "nowhere"))


def test_head_artifact_needs_the_same_base(lora, tmp_path):
    trained_head = lora
    manifest = artifact.save(trained_head, str(tmp_path))
    manifest["base_model"]["fingerprint"] = "f" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not the one this model was trained on"):
        loading.load(str(tmp_path))


def test_check_base_model_dir_accepts_the_default():
    info = check_base_model_dir(default_base_model_dir())
    assert info["model_type"] == "bert" and info["hidden_size"] == 384 and info["num_layers"] == 6
    assert info["vocab_size"] == 30522 and len(info["fingerprint"]) == 64


def test_check_base_model_dir_rejects_incomplete_dirs(tmp_path):
    src = default_base_model_dir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(f"{src}/{name}", tmp_path / name)
    with pytest.raises(ValueError, match="safetensors"):
        check_base_model_dir(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ValueError, match="cannot load"):
        check_base_model_dir(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="not a supported text encoder"):
        check_base_model_dir(str(tmp_path))
    with pytest.raises(ValueError, match="does not exist"):
        check_base_model_dir(str(tmp_path / "missing"))
