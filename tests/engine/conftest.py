"""Fixtures for the engine tests: plain Python, no Django."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def datasets_dir() -> Path:
    """The shared datasets folder: $SCALPEL_DATASETS_DIR, else ``../shared/datasets`` beside the checkout."""
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets").resolve()


@pytest.fixture
def dataset_file():
    """Path of a shared dataset file, skipping the test when it is not there."""

    def locate(relative: str) -> Path:
        path = datasets_dir() / relative
        if not path.is_file():
            pytest.skip(f"shared dataset {relative} not found at {path} (set SCALPEL_DATASETS_DIR)")
        return path

    return locate


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    """Overrides the root conftest's Django schema reset: the engine tests never touch a database."""
    yield
