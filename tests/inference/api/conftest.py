"""The API tests' client, and the checks every error response must pass."""

from __future__ import annotations

import pytest

from tests.factories import raw_key
from tests.support import ApiClient


@pytest.fixture
def api(client, tenant_a):
    """A client holding an all-scope key of tenant A."""
    return ApiClient(client, raw_key(tenant_a))
