"""Promotion gates, rollback history, deletion rules and tenant fences around model files."""

from __future__ import annotations

import pytest
from django.db import connection

from inference.models import AliasChange, Dataset, DatasetVersion, Model, ModelVersion
from inference.selectors.registry import model_version_resolve
from inference.services import registry
from inference.services.errors import ServiceError


def make_version(model: Model, number: int, value: float, *, prefix: str | None = None) -> ModelVersion:
    dataset, _ = Dataset.objects.get_or_create(name="d", defaults={"task": model.task})
    dv, _ = DatasetVersion.objects.get_or_create(dataset=dataset, number=1, defaults={"content_hash": "h"})
    tenant_prefix = f"tenants/{connection.tenant.pk}/models/{model.name}/v{number}"
    return ModelVersion.objects.create(
        model=model, number=number, artifact_path=prefix or tenant_prefix, artifact_checksum=f"c{number}",
        metrics={"headline": {"name": "accuracy", "value": value}}, headline_metric="accuracy",
        headline_value=value, dataset_version=dv, dataset_hash="h", base_model_id="minilm-l6", method="full",
    )  # fmt: skip


@pytest.fixture
def model(tenant_a):
    connection.set_tenant(tenant_a)
    return Model.objects.create(name="router", task="classification")


def test_without_promotion_the_newest_version_serves_and_production_wins_once_set(model):
    v1, v2 = make_version(model, 1, 0.90), make_version(model, 2, 0.91)
    assert model_version_resolve(model=model) == v2
    registry.model_version_promote(version=v1, actor="ana")
    assert model_version_resolve(model=model) == v1
    assert model_version_resolve(model=model, ref="2") == v2
    assert model_version_resolve(model=model, ref="staging") is None


def test_a_worse_version_cannot_be_promoted_by_accident(model, settings):
    settings.SCALPEL_PROMOTION_MAX_REGRESSION = 0.02
    v1, v2 = make_version(model, 1, 0.92), make_version(model, 2, 0.85)
    registry.model_version_promote(version=v1, actor="ana")
    with pytest.raises(ServiceError) as refused:
        registry.model_version_promote(version=v2, actor="ana")
    assert refused.value.code == "promotion_gate_failed"
    assert "worse than production v1's 0.920" in refused.value.message
    assert model.aliases.get(alias="production").version == v1
    registry.model_version_promote(version=v2, actor="ana", force=True, note="known regression, accepted")
    change = AliasChange.objects.filter(model=model).first()
    assert (change.from_version, change.to_version, change.forced) == (1, 2, True)


def test_a_version_below_the_minimum_metric_is_refused(model, settings):
    settings.SCALPEL_PROMOTION_MIN_METRIC = 0.8
    with pytest.raises(ServiceError, match="below the required minimum 0.800"):
        registry.model_version_promote(version=make_version(model, 1, 0.5))
    # Staging has no gate: it is where doubtful versions are tried.
    registry.model_version_promote(version=make_version(model, 2, 0.5), alias="staging")


def test_rollback_returns_to_the_previous_version_and_is_recorded(model):
    v1, v2, v3 = (make_version(model, n, 0.9 + n / 100) for n in (1, 2, 3))
    registry.model_version_promote(version=v1, actor="ana")
    registry.model_version_promote(version=v2, actor="ana")
    registry.model_version_promote(version=v3, actor="bo")
    assert registry.model_rollback(model=model, actor="cy").version == v2
    history = list(
        AliasChange.objects.filter(model=model).values_list("action", "from_version", "to_version", "actor")
    )
    assert history[0] == ("rollback", 3, 2, "cy")
    assert history[1:] == [("promote", 2, 3, "bo"), ("promote", 1, 2, "ana"), ("promote", None, 1, "ana")]
    # Rolling back again keeps walking back, never forward to v3.
    assert registry.model_rollback(model=model, actor="cy").version == v1


def test_rollback_with_nothing_before_says_so(model):
    registry.model_version_promote(version=make_version(model, 1, 0.9))
    with pytest.raises(ServiceError, match="no earlier version"):
        registry.model_rollback(model=model)
    with pytest.raises(ServiceError, match="no staging version"):
        registry.model_rollback(model=model, alias="staging")


def test_a_version_in_use_cannot_be_deleted_and_others_lose_their_files(model, settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path
    v1, v2 = make_version(model, 1, 0.9), make_version(model, 2, 0.9)
    v2.artifact_manifest = {"files": {"head.safetensors": "x"}}
    v2.save()
    default_storage.save(f"{v2.artifact_path}/head.safetensors", ContentFile(b"weights"))
    default_storage.save(f"{v2.artifact_path}/manifest.json", ContentFile(b"{}"))
    registry.model_version_promote(version=v1)
    with pytest.raises(ServiceError, match="production version"):
        registry.model_version_delete(version=v1)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        registry.model_version_delete(version=v2)
    assert not ModelVersion.objects.filter(pk=v2.pk).exists()
    assert not default_storage.exists(f"{v2.artifact_path}/head.safetensors")


def test_a_version_row_pointing_at_another_tenants_files_is_refused(model, tenant_b):
    foreign = make_version(model, 1, 0.9, prefix=f"tenants/{tenant_b.pk}/models/router/v1")
    with pytest.raises(ServiceError) as refused:
        registry.local_artifact_dir(foreign)
    assert refused.value.status == 404


def test_another_tenant_sees_none_of_these_versions(model, tenant_b):
    make_version(model, 1, 0.9)
    connection.set_tenant(tenant_b)
    assert not Model.objects.filter(name="router").exists()
    assert ModelVersion.objects.count() == 0
