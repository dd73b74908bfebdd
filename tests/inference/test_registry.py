"""Promotion gates, rollback history, deletion rules and tenant fences around model files."""

from __future__ import annotations

import importlib

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from core.exceptions import ApplicationError
from inference.models import AliasChange, Model, ModelVersion
from inference.services import registry
from tenants.error_bodies import status_of
from tests.factories import ModelFactory, ModelVersionFactory, TrainingJobFactory, tenant_model_version


@pytest.fixture
def model(tenant_a):
    connection.set_tenant(tenant_a)
    return ModelFactory(name="router")


def test_a_worse_version_cannot_be_promoted_by_accident(model, settings):
    settings.SCALPEL_PROMOTION_MAX_REGRESSION = 0.02
    v1, v2 = tenant_model_version(model, 1, 0.92), tenant_model_version(model, 2, 0.85)
    registry.model_version_promote(version=v1, actor="ana")
    with pytest.raises(ApplicationError) as refused:
        registry.model_version_promote(version=v2, actor="ana")
    assert refused.value.code == "quality_gate_failed"
    assert "worse than production v1's 0.920" in refused.value.message
    assert model.aliases.get(alias="production").version == v1
    registry.model_version_promote(version=v2, actor="ana", override_reason="known regression, accepted")
    change = AliasChange.objects.filter(model=model).first()
    assert (change.from_version, change.to_version, change.forced) == (1, 2, True)
    assert change.override_reason == "known regression, accepted"


def test_a_version_below_the_minimum_metric_is_refused(model, settings):
    settings.SCALPEL_PROMOTION_MIN_METRIC = 0.8
    with pytest.raises(ApplicationError, match="below the required minimum 0.800"):
        registry.model_version_promote(version=tenant_model_version(model, 1, 0.5))
    # Staging has no gate: it is where doubtful versions are tried.
    registry.model_version_promote(version=tenant_model_version(model, 2, 0.5), alias="staging")


def test_rollback_returns_to_the_previous_version_and_is_recorded(model):
    v1, v2, v3 = (tenant_model_version(model, n, 0.9 + n / 100) for n in (1, 2, 3))
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
    registry.model_version_promote(version=tenant_model_version(model, 1, 0.9))
    with pytest.raises(ApplicationError, match="no earlier version"):
        registry.model_rollback(model=model)
    with pytest.raises(ApplicationError, match="no staging version"):
        registry.model_rollback(model=model, alias="staging")


def test_a_version_in_use_cannot_be_deleted_and_others_lose_their_files(model, settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path
    v1, v2 = tenant_model_version(model, 1, 0.9), tenant_model_version(model, 2, 0.9)
    v2.artifact_manifest = {"files": {"head.safetensors": "x"}}
    v2.save()
    default_storage.save(f"{v2.artifact_path}/head.safetensors", ContentFile(b"weights"))
    default_storage.save(f"{v2.artifact_path}/manifest.json", ContentFile(b"{}"))
    registry.model_version_promote(version=v1)
    with pytest.raises(ApplicationError, match="production version"):
        registry.model_version_delete(version=v1)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        registry.model_version_delete(version=v2)
    assert not ModelVersion.objects.filter(pk=v2.pk).exists()
    assert not default_storage.exists(f"{v2.artifact_path}/head.safetensors")


def test_a_version_row_pointing_at_another_tenants_files_is_refused(model, tenant_b):
    foreign = ModelVersionFactory(
        model=model, number=1, artifact_path=f"tenants/{tenant_b.pk}/models/router/v1"
    )
    with pytest.raises(ApplicationError) as refused:
        registry.local_artifact_dir(foreign)
    assert status_of(refused.value) == 404


def test_another_tenant_sees_none_of_these_versions(model, tenant_b):
    tenant_model_version(model, 1, 0.9)
    connection.set_tenant(tenant_b)
    assert not Model.objects.filter(name="router").exists()
    assert ModelVersion.objects.count() == 0


# ---- rollback: the plan a confirmation shows is the move the rollback makes ------------------------


def roll_back_and_check_plan(model: Model) -> ModelVersion:
    """Roll production back once, asserting the plan named beforehand is where it went."""
    plan = registry.model_rollback_plan(model=model)
    assert plan.target is not None, plan.problem
    alias = registry.model_rollback(model=model, actor="cy")
    assert alias.version == plan.target
    return alias.version


def test_repeated_rollbacks_walk_back_through_promotions_until_there_is_nothing_earlier(model):
    v1, v2, v3 = (tenant_model_version(model, n, 0.9 + n / 100) for n in (1, 2, 3))
    for version in (v1, v2, v3):
        registry.model_version_promote(version=version, actor="ana")

    assert roll_back_and_check_plan(model) == v2
    assert roll_back_and_check_plan(model) == v1

    plan = registry.model_rollback_plan(model=model)
    assert (plan.current, plan.target) == (v1, None)
    with pytest.raises(ApplicationError, match="production v1 has no earlier version") as refused:
        registry.model_rollback(model=model)
    assert refused.value.message == plan.problem


def test_after_one_rollback_to_the_first_promotion_a_second_one_says_there_is_nothing_earlier(model):
    v1, v2 = tenant_model_version(model, 1, 0.90), tenant_model_version(model, 2, 0.91)
    registry.model_version_promote(version=v1, actor="ana")
    registry.model_version_promote(version=v2, actor="ana")

    assert roll_back_and_check_plan(model) == v1

    assert registry.model_rollback_plan(model=model).target is None
    with pytest.raises(ApplicationError, match="no earlier version to roll back to"):
        registry.model_rollback(model=model)
    assert model.aliases.get(alias="production").version == v1


def test_rollbacks_after_a_version_was_promoted_twice_end_instead_of_going_round(model):
    v1, v2 = tenant_model_version(model, 1, 0.90), tenant_model_version(model, 2, 0.90)
    for version in (v1, v2, v1):
        registry.model_version_promote(version=version, actor="ana")

    assert roll_back_and_check_plan(model) == v2
    assert roll_back_and_check_plan(model) == v1
    assert registry.model_rollback_plan(model=model).target is None


def test_promoting_after_a_rollback_starts_a_new_branch_of_history(model):
    v1, v2, v3 = (tenant_model_version(model, n, 0.9) for n in (1, 2, 3))
    registry.model_version_promote(version=v1)
    registry.model_version_promote(version=v2)
    roll_back_and_check_plan(model)  # back on v1
    registry.model_version_promote(version=v3)

    assert roll_back_and_check_plan(model) == v1
    assert registry.model_rollback_plan(model=model).target is None


def test_rollback_passes_over_a_deleted_earlier_version_and_says_so(model):
    v1, v2, v3 = (tenant_model_version(model, n, 0.9) for n in (1, 2, 3))
    for version in (v1, v2, v3):
        registry.model_version_promote(version=version)
    registry.model_version_delete(version=v2)

    plan = registry.model_rollback_plan(model=model)
    assert (plan.target, plan.skipped) == (v1, (2,))
    assert roll_back_and_check_plan(model) == v1
    assert AliasChange.objects.filter(model=model).first().note == "skipped deleted v2"


def test_rollback_with_every_earlier_version_deleted_names_them(model):
    v1, v2 = tenant_model_version(model, 1, 0.9), tenant_model_version(model, 2, 0.9)
    registry.model_version_promote(version=v1)
    registry.model_version_promote(version=v2)
    registry.model_version_delete(version=v1)

    with pytest.raises(
        ApplicationError, match=r"no earlier version to roll back to \(the earlier v1 has been deleted\)"
    ):
        registry.model_rollback(model=model)


# ---- version numbers are never handed out twice ------------------------------------------------


def create_from_job(model_name: str, tmp_path, n: int) -> ModelVersion:
    """A version registered the way the worker registers one, from an artifact directory."""
    job = TrainingJobFactory(model_name=model_name)
    artifact = tmp_path / f"artifact-{n}"
    artifact.mkdir()
    (artifact / "head.safetensors").write_bytes(b"weights %d" % n)
    (artifact / "manifest.json").write_text("{}")
    return registry.model_version_create(
        job=job,
        local_dir=str(artifact),
        manifest={"files": {"head.safetensors": "x"}, "labels": ["a", "b"]},
        evaluation={"headline": {"name": "accuracy", "value": 0.9}},
    )


def test_deleting_the_newest_version_does_not_free_its_number(model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    assert create_from_job("router", tmp_path, 1).number == 1
    v2 = create_from_job("router", tmp_path, 2)
    assert v2.number == 2
    registry.model_version_delete(version=v2)

    v3 = create_from_job("router", tmp_path, 3)

    assert v3.number == 3
    assert v3.artifact_path.endswith("/models/router/v3")
    model.refresh_from_db()
    assert model.last_version_number == 3


def test_the_counter_also_steps_over_versions_written_without_it(model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    tenant_model_version(model, 4, 0.9)  # as old data or a fixture would, leaving the counter at 0

    assert create_from_job("router", tmp_path, 1).number == 5


def test_the_migration_starts_each_counter_at_the_highest_number_used(model):
    from django.apps import apps

    migration = importlib.import_module("inference.migrations.0002_model_last_version_number")
    tenant_model_version(model, 1, 0.9)
    tenant_model_version(model, 3, 0.9)
    # v5 was deleted before the counter existed; the alias history still mentions it.
    AliasChange.objects.create(
        model=model, alias="production", from_version=5, to_version=3, action="rollback"
    )
    empty = ModelFactory(name="empty")

    migration.set_counters(apps, None)

    model.refresh_from_db()
    empty.refresh_from_db()
    assert (model.last_version_number, empty.last_version_number) == (5, 0)


# ---- deleting a whole model --------------------------------------------------------------------


def test_deleting_a_model_removes_every_versions_files(
    model, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    paths = [create_from_job("router", tmp_path, n).artifact_path for n in (1, 2)]
    assert all(default_storage.exists(f"{p}/head.safetensors") for p in paths)

    with django_capture_on_commit_callbacks(execute=True):
        registry.model_delete(model=model)

    assert not Model.objects.filter(name="router").exists()
    assert not any(
        default_storage.exists(f"{p}/{f}") for p in paths for f in ("head.safetensors", "manifest.json")
    )


def test_a_model_an_alias_points_into_cannot_be_deleted(model):
    v1 = tenant_model_version(model, 1, 0.9)
    registry.model_version_promote(version=v1)

    with pytest.raises(ApplicationError, match="v1 is its production version") as refused:
        registry.model_delete(model=model)

    assert refused.value.code == "model_in_use"
    assert ModelVersion.objects.filter(pk=v1.pk).exists()
