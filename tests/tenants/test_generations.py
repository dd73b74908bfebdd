"""A revocation or suspension written around the services (a queryset update, SQL: no counter bump)
still reaches every process within ``MAX_AGE_SECONDS`` (5 s)."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from tenants import generations
from tenants.models import ApiKey, Tenant
from tests.factories import key_of, raw_key
from tests.support import ApiClient


@pytest.fixture
def later(monkeypatch):
    """Moves the processes' clock forward by ``seconds``."""

    def move(seconds: float) -> None:
        now = time.monotonic()
        monkeypatch.setattr(generations.time, "monotonic", lambda: now + seconds)

    return move


def test_copies_live_at_most_five_seconds():
    assert generations.MAX_AGE_SECONDS <= 5


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda key: ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now()), "invalid_api_key"),
        (lambda key: Tenant.objects.filter(pk=key.tenant_id).update(status="suspended"), "tenant_suspended"),
    ],
)
def test_a_change_that_bypasses_the_counters_is_served_for_at_most_five_seconds(
    client, tenant_a, later, change, code
):
    api = ApiClient(client, raw_key(tenant_a))
    assert api.get("models").status_code == 200  # held in this process's memory now
    change(key_of(api.key))
    later(generations.MAX_AGE_SECONDS + 0.1)
    assert api.get("models").json()["error"]["code"] == code
