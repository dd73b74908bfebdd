"""Which version answers a prediction: production when promoted, else the newest; clear errors otherwise."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.exceptions import ApplicationError, NotFound
from inference.models import Model, ModelAlias
from inference.services import serving
from tenants.error_bodies import status_of
from tests.factories import ModelFactory, dataset_with_version, model_version


@pytest.fixture
def unpromoted(tenant_a):
    """A model with versions 1 and 2 and no alias."""
    with schema_context(tenant_a.schema_name):
        data = dataset_with_version("resolution-data")
        model = ModelFactory(name="resolution")
        model_version(model, 1, data), model_version(model, 2, data)
    return tenant_a


@pytest.mark.parametrize("ref", [None, "", "production"])
def test_production_named_or_not_falls_back_to_the_newest_version(unpromoted, ref):
    with schema_context(unpromoted.schema_name):
        assert serving._version_for_serving("resolution", ref).number == 2


def test_a_promoted_version_answers_by_default_and_by_name(unpromoted):
    with schema_context(unpromoted.schema_name):
        model = Model.objects.get(name="resolution")
        ModelAlias.objects.create(model=model, alias="production", version=model.versions.get(number=1))
        assert serving._version_for_serving("resolution", None).number == 1
        assert serving._version_for_serving("resolution", "production").number == 1
        assert serving._version_for_serving("resolution", "latest").number == 2
        assert serving._version_for_serving("resolution", "staging") is None


def test_a_model_without_versions_is_not_ready_whatever_version_is_asked(tenant_a):
    with schema_context(tenant_a.schema_name):
        ModelFactory(name="untrained")
        for ref in (None, "production", 3, "staging"):
            with pytest.raises(ApplicationError) as caught:
                serving.predict(model_name="untrained", inputs=["hello"], version=ref)
            assert caught.value.code == "model_not_ready" and status_of(caught.value) == 409


def test_an_unknown_version_of_a_trained_model_is_404_naming_it(unpromoted):
    with schema_context(unpromoted.schema_name):
        with pytest.raises(NotFound, match="no version or alias 'staging'"):
            serving.predict(model_name="resolution", inputs=["hello"], version="staging")
        with pytest.raises(NotFound, match="no version or alias '9'"):
            serving.predict(model_name="resolution", inputs=["hello"], version=9)
