"""A version whose files are missing or damaged gets one stable answer, never a server path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context

from inference.storage import tenant_path
from tests.factories import ModelVersionFactory, dataset_with_version
from tests.support import error_of


@pytest.fixture
def served_version(tenant_a, settings, tmp_path):
    """A model whose only version points at (still empty) files of tenant A, in a throwaway media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with schema_context(tenant_a.schema_name):
        return ModelVersionFactory(
            model__name="broken-files",
            dataset_version=dataset_with_version("broken-files-data"),
            artifact_path=tenant_path("models", "broken-files", "v1", tenant=tenant_a),
        )


def _assert_unavailable(response, caplog) -> None:
    error = error_of(response, 503, "artifact_unavailable")
    assert "broken-files v1 cannot be served" in error["message"]
    assert error["details"]["model"] == "broken-files" and error["details"]["version"] == 1
    text = response.content.decode()
    assert "/" not in error["message"] and str(default_storage.location) not in text
    # The operator gets the detail, with the tenant and the incident id the client quotes.
    assert error["details"]["incident"] in caplog.text and "tenant=" in caplog.text


def test_a_version_without_its_files_is_503_artifact_unavailable(api, served_version, caplog):
    caplog.set_level(logging.ERROR, logger="scalpel.serving")
    _assert_unavailable(api.post("models/broken-files/predict", {"inputs": ["hello"]}), caplog)
    assert "manifest.json" in caplog.text


def test_a_version_whose_manifest_changed_is_503_with_the_same_code(api, served_version, caplog):
    caplog.set_level(logging.ERROR, logger="scalpel.serving")
    folder = Path(default_storage.path(served_version.artifact_path))
    folder.mkdir(parents=True)
    manifest = {
        "format_version": 1,
        "task": "classification",
        "method": "head",
        "labels": ["neg", "pos"],
        "max_length": 32,
        "base_model": {"id": "minilm-l6", "fingerprint": "x"},
        "files": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _assert_unavailable(api.post("models/broken-files/predict", {"inputs": ["hello"]}), caplog)
    assert "is not the registered" in caplog.text
