"""The production quality gate and honest evaluation figures, as an API client sees them."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from inference.models import AliasChange, Model
from tenants.models import AuditEntry
from tests.factories import model_version, raw_key, tenant_objects
from tests.support import ApiClient


@pytest.fixture
def weak(tenant_a, settings):
    """A model whose v3 (accuracy 0.60) does not beat its baseline (0.65); production is v2 (0.9)."""
    settings.SCALPEL_PROMOTION_MIN_LIFT = 0.01
    settings.SCALPEL_PROMOTION_MAX_REGRESSION = 0.02
    made = tenant_objects(tenant_a, "gate")
    with schema_context(tenant_a.schema_name):
        model = Model.objects.get(name=made.model)
        model_version(model, 3, model.versions.get(number=1).dataset_version, value=0.60, baseline=0.65)
    connection.set_schema_to_public()
    return made


def test_promotion_under_the_gate_is_409_with_the_figures(api, weak):
    refused = api.post(f"models/{weak.model}/versions/3/promote", {"alias": "production"})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "quality_gate_failed"
    figures = {k: v for k, v in error["details"].items() if k != "problems"}
    assert figures == {
        "metric": "accuracy", "value": 0.6, "baseline": 0.65, "lift": pytest.approx(-0.05), "min_lift": 0.01,
        "min_value": 0.0, "production_version": 2, "production_value": 0.9, "margin": 0.02,
    }  # fmt: skip
    assert len(error["details"]["problems"]) == 2  # under the baseline, and worse than production
    assert "override_reason" in error["message"] or "reason" in error["message"]


def test_an_empty_reason_is_no_override(api, weak):
    refused = api.post(
        f"models/{weak.model}/versions/3/promote", {"alias": "production", "override_reason": " "}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "quality_gate_failed"


def test_an_admin_override_with_a_reason_is_in_the_alias_history_and_the_audit_log(api, weak, tenant_a):
    start = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    body = {"alias": "production", "override_reason": "the customer accepted the risk"}
    promoted = api.post(f"models/{weak.model}/versions/3/promote", body)
    assert promoted.status_code == 200, promoted.content
    history = api.get(f"models/{weak.model}").json()["alias_history"]
    newest = history[0]
    assert (newest["action"], newest["from_version"], newest["to_version"]) == ("promote", 2, 3)
    assert (newest["forced"], newest["override_reason"]) == (True, "the customer accepted the risk")
    entry = AuditEntry.objects.filter(pk__gt=start, action="model.promoted_over_gate").get()
    assert entry.details["override_reason"] == "the customer accepted the risk"
    assert entry.tenant_id == tenant_a.pk


def test_keys_that_may_not_promote_may_not_override(client, weak, tenant_a):
    member = ApiClient(client, raw_key(tenant_a, scopes=["read", "predict", "data", "train"]))
    body = {"alias": "production", "override_reason": "please"}
    assert member.post(f"models/{weak.model}/versions/3/promote", body).status_code == 403
    with schema_context(tenant_a.schema_name):
        assert not AliasChange.objects.filter(to_version=3).exists()


def test_staging_is_not_gated(api, weak):
    staged = api.post(f"models/{weak.model}/versions/3/promote", {"alias": "staging"})
    assert staged.status_code == 200 and staged.json()["version"] == 3


def test_versions_show_their_interval_and_a_small_test_warning(api, weak, tenant_a):
    with schema_context(tenant_a.schema_name):
        v3 = Model.objects.get(name=weak.model).versions.get(number=3)
        v3.metrics = {
            **v3.metrics,
            "task": "classification",
            "test_size": 60,
            "confidence_interval": [0.47, 0.72],
        }
        v3.save()
    detail = api.get(f"models/{weak.model}/versions/3").json()
    assert detail["headline_value"] == 0.6 and detail["confidence_interval"] == [0.47, 0.72]
    assert detail["warnings"] and "60 test texts" in detail["warnings"][0]
    listed = {v["number"]: v for v in api.get(f"models/{weak.model}/versions").json()["results"]}
    assert listed[3]["confidence_interval"] == [0.47, 0.72]
    # Versions evaluated before intervals existed show none, and no error.
    assert listed[1]["confidence_interval"] is None and listed[1]["warnings"] == []


def test_compare_says_whether_a_difference_is_within_noise(api, weak, tenant_a):
    compared = api.get(f"models/{weak.model}/compare?a=2&b=3")
    assert compared.status_code == 200, compared.content
    body = compared.json()
    assert body["headline_delta"] == pytest.approx(-0.3)
    assert (body["a"]["number"], body["b"]["number"]) == (2, 3)
    # Factory versions carry no interval: the answer says noise cannot be judged, and why.
    assert body["noise"]["within_noise"] is None and "before confidence intervals" in body["noise"]["says"]
    assert api.get(f"models/{weak.model}/compare?a=2&b=99").status_code == 404
    bad = api.get(f"models/{weak.model}/compare?a=two&b=3")
    assert bad.status_code == 400 and "a" in bad.json()["error"]["details"]
