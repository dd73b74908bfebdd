"""Builders for the operator console's tests: rows in a tenant's schema."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import schema_context

from inference.models import DatasetVersion, TrainingJob
from tests.factories import DatasetVersionFactory, TrainingJobFactory


@pytest.fixture
def a_dataset_version(tenant_a) -> DatasetVersion:
    """An empty dataset version in tenant A's schema (jobs and model versions point at one)."""
    with schema_context(tenant_a.schema_name):
        return DatasetVersionFactory(dataset__name="ops-metrics", labels=["a", "b"])


@pytest.fixture
def make_job(tenant_a, a_dataset_version):
    """``make_job(status, seconds=None)``: a training job of tenant A that ran ``seconds`` (if given)."""

    def make(status: str, seconds: float | None = None) -> TrainingJob:
        now = timezone.now()
        with schema_context(tenant_a.schema_name):
            return TrainingJobFactory(
                dataset_version=a_dataset_version,
                model_name="ops",
                status=status,
                started_at=None if seconds is None else now - timezone.timedelta(seconds=seconds),
                finished_at=None if seconds is None else now,
            )

    return make


@pytest.fixture
def operator_client(client, db):
    """The test client signed in to the operator console as a superuser."""
    with schema_context("public"):
        get_user_model().objects.create_superuser(
            username="op", email="op@example.com", password="pw-op-4417"
        )
    client.login(username="op", password="pw-op-4417")
    return client
