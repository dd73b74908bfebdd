"""Artifact files of model versions: stored under the tenant's prefix, deleted, fetched for loading."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from core.exceptions import NotFound
from inference.engine import artifact
from inference.models import ModelVersion
from inference.storage import is_under_tenant, tenant_path


def artifact_store(*, local_dir: str, model_name: str, number: int) -> tuple[str, int]:
    """Copy an artifact directory into storage under the tenant's prefix; returns (prefix, bytes)."""
    prefix = tenant_path("models", model_name, f"v{number}")
    total = 0
    root = Path(local_dir)
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        target = tenant_path("models", model_name, f"v{number}", *rel.split("/"))
        if default_storage.exists(target):
            default_storage.delete(target)
        with path.open("rb") as fh:
            default_storage.save(target, File(fh, name=path.name))
        total += path.stat().st_size
    return prefix, total


def artifact_delete(*, prefix: str, manifest: dict) -> None:
    for rel in [*manifest.get("files", {}), "manifest.json"]:
        path = f"{prefix}/{rel}"
        if default_storage.exists(path):
            default_storage.delete(path)


def manifest_checksum(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def local_artifact_dir(version: ModelVersion) -> str:
    """A local directory holding the version's artifact files, fetched from storage if needed."""
    prefix = version.artifact_path
    if not is_under_tenant(prefix):
        # A row can only ever point into its own tenant's files, whatever is written in it.
        raise NotFound(f"{version} points outside this workspace's files; it will not be loaded.")
    try:
        # Local filesystem storage: read the files where they are.
        return default_storage.path(prefix)
    except NotImplementedError:
        pass
    cache = Path(settings.SCALPEL_ARTIFACT_CACHE_DIR) / version.artifact_checksum
    if not (cache / "manifest.json").exists():
        # Fetched into a folder of its own (several processes of a node share the cache), checked
        # against the manifest, and only then moved into place: the cache holds verified copies only,
        # so a damaged download is fetched again next time instead of failing forever.
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{cache.name}.", suffix=".partial", dir=cache.parent))
        try:
            for rel in [*version.artifact_manifest.get("files", {}), "manifest.json"]:
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with default_storage.open(f"{prefix}/{rel}", "rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            artifact.verify(str(tmp))
            try:
                os.replace(tmp, cache)
            except OSError:
                if not (cache / "manifest.json").exists():  # not another process that won the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(cache)
