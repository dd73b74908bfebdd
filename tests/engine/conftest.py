"""Fixtures for the engine tests: plain Python, no Django."""

from __future__ import annotations

import pytest

from tests.support import shared_dataset


@pytest.fixture
def dataset_file():
    """Path of a shared dataset file: the test is skipped when it is not there (fails in CI)."""
    return shared_dataset


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    """Overrides the root conftest's Django schema reset: the engine tests never touch a database."""
    yield
