"""The production quality gate: beat the baseline, do not regress; overrides need a reason."""

from __future__ import annotations

import pytest
from django.db import connection

from core.exceptions import ApplicationError
from inference.models import AliasChange, Dataset, DatasetVersion, Model, ModelVersion
from inference.services.registry import model_version_promote, promotion_figures
from tenants.actors import Actor
from tenants.error_bodies import status_of
from tenants.models import AuditEntry

ADMIN = Actor(kind="user", name="ana@alpha.example", role="admin")
MEMBER = Actor(kind="user", name="mo@alpha.example", role="member")


def version(model: Model, number: int, value: float, baseline: float | None) -> ModelVersion:
    dataset, _ = Dataset.objects.get_or_create(name="d", defaults={"task": model.task})
    dv, _ = DatasetVersion.objects.get_or_create(dataset=dataset, number=1, defaults={"content_hash": "h"})
    return ModelVersion.objects.create(
        model=model, number=number, artifact_path=f"tenants/{connection.tenant.pk}/models/x/v{number}",
        artifact_checksum=f"c{number}", metrics={"headline": {"name": "f1", "value": value}},
        headline_metric="f1", headline_value=value, baseline_value=baseline, dataset_version=dv,
        dataset_hash="h", base_model_id="minilm-l6", method="full",
    )  # fmt: skip


@pytest.fixture
def model(tenant_a, settings):
    settings.SCALPEL_PROMOTION_MIN_LIFT = 0.01
    settings.SCALPEL_PROMOTION_MAX_REGRESSION = 0.02
    settings.SCALPEL_PROMOTION_MIN_METRIC = 0.0
    connection.set_tenant(tenant_a)
    return Model.objects.create(name="tagger", task="extraction")


def test_the_gate_is_on_by_default():
    from django.conf import settings

    assert settings.SCALPEL_PROMOTION_MIN_LIFT > 0


def test_a_model_that_finds_nothing_does_not_reach_production(model):
    # The reported case: entity F1 0.000, against a baseline that finds some entities.
    empty = version(model, 1, 0.0, 0.21)
    with pytest.raises(ApplicationError) as refused:
        model_version_promote(version=empty, actor=ADMIN)
    error = refused.value
    assert error.code == "quality_gate_failed" and status_of(error) == 409
    assert error.details | {"problems": None} == {
        "metric": "f1", "value": 0.0, "baseline": 0.21, "lift": pytest.approx(-0.21), "min_lift": 0.01,
        "min_value": 0.0, "production_version": None, "production_value": None, "margin": 0.02,
        "problems": None,
    }  # fmt: skip
    assert "beats its baseline's 0.210 by -0.210, less than the required 0.010" in error.message
    assert not model.aliases.exists() and not AliasChange.objects.exists()


def test_a_lift_below_the_minimum_is_refused_and_enough_lift_passes(model, settings):
    with pytest.raises(ApplicationError, match="by \\+0.005, less than the required 0.010"):
        model_version_promote(version=version(model, 1, 0.705, 0.70), actor=ADMIN)
    model_version_promote(version=version(model, 2, 0.72, 0.70), actor=ADMIN)
    assert model.aliases.get(alias="production").version.number == 2
    settings.SCALPEL_PROMOTION_MIN_LIFT = 0.0  # an operator may lower it
    model_version_promote(version=version(model, 3, 0.72, 0.72), actor=ADMIN)


def test_a_regression_against_production_beyond_the_margin_is_refused_with_both_figures(model):
    model_version_promote(version=version(model, 1, 0.90, 0.5), actor=ADMIN)
    within = version(model, 2, 0.885, 0.5)
    model_version_promote(version=within, actor=ADMIN)  # 0.015 worse: inside the 0.02 margin
    worse = version(model, 3, 0.80, 0.5)
    with pytest.raises(ApplicationError) as refused:
        model_version_promote(version=worse, actor=ADMIN)
    details = refused.value.details
    assert (details["production_version"], details["production_value"], details["margin"]) == (2, 0.885, 0.02)
    assert "worse than production v2's 0.885 by more than the allowed 0.020" in refused.value.message


def test_a_version_without_a_baseline_is_not_waved_through(model):
    with pytest.raises(ApplicationError, match="no baseline score to beat"):
        model_version_promote(version=version(model, 1, 0.9, None), actor=ADMIN)


def test_an_override_needs_a_reason_and_is_kept_in_the_history_and_the_audit_log(model):
    weak = version(model, 1, 0.3, 0.4)
    with pytest.raises(ApplicationError) as blank:
        model_version_promote(version=weak, actor=ADMIN, override_reason="   ")
    assert blank.value.code == "quality_gate_failed"
    start = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    model_version_promote(version=weak, actor=ADMIN, override_reason="  the only model for the demo  ")
    change = AliasChange.objects.get(model=model)
    assert (change.forced, change.override_reason, change.actor) == (
        True,
        "the only model for the demo",
        ADMIN.name,
    )
    entry = AuditEntry.objects.get(pk__gt=start)
    assert entry.action == "model.promoted_over_gate"
    assert entry.details["override_reason"] == "the only model for the demo"
    assert entry.details["figures"]["lift"] == pytest.approx(-0.1) and entry.details["problems"]


def test_only_roles_that_may_promote_may_override(model):
    with pytest.raises(ApplicationError) as refused:
        model_version_promote(version=version(model, 1, 0.3, 0.4), actor=MEMBER, override_reason="please")
    assert status_of(refused.value) == 403 and not model.aliases.exists()


def test_a_reason_for_a_version_that_passes_is_not_an_override(model):
    model_version_promote(version=version(model, 1, 0.9, 0.5), actor=ADMIN, override_reason="just in case")
    change = AliasChange.objects.get(model=model)
    assert (change.forced, change.override_reason) == (False, "")


def test_staging_is_not_gated(model):
    model_version_promote(version=version(model, 1, 0.0, 0.21), alias="staging", actor=ADMIN)
    change = AliasChange.objects.get(model=model)
    assert (change.alias, change.forced) == ("staging", False)


def test_the_figures_name_the_production_version_but_not_the_version_itself(model):
    v1 = version(model, 1, 0.9, 0.5)
    model_version_promote(version=v1, actor=ADMIN)
    assert promotion_figures(version=v1)["production_version"] is None
    assert promotion_figures(version=version(model, 2, 0.8, 0.5))["production_value"] == 0.9
