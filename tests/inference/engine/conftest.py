"""The engine's tests touch no database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    """Overrides the root conftest's Django schema reset: these tests never touch a database."""
    yield
