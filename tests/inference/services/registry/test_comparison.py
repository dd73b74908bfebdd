"""Comparing two versions says whether their difference is within noise, and how it knows."""

from __future__ import annotations

import pytest
from django.db import connection

from inference.engine.confidence import bootstrap_interval, classification_outcomes, rows_fingerprint
from inference.models import Dataset, DatasetVersion, Model, ModelVersion
from inference.services.registry import model_versions_compare

ROWS = rows_fingerprint([[f"text {i}", "ab"[i % 2]] for i in range(200)])


def evaluated(
    model: Model, number: int, correct: int, *, rows: str | None = ROWS, n: int = 200
) -> ModelVersion:
    """A version right on its first ``correct`` of ``n`` test rows, with what evaluation stores."""
    gold = ["ab"[i % 2] for i in range(n)]
    pred = [g if i < correct else ("b" if g == "a" else "a") for i, g in enumerate(gold)]
    outcomes = classification_outcomes(gold, pred, ["a", "b"])
    metrics = {
        "headline": {"name": "accuracy", "value": correct / n},
        "confidence_interval": bootstrap_interval(outcomes, "accuracy"),
        "outcomes": outcomes | {"rows": rows},
    }
    return _version(model, number, correct / n, metrics)


def _version(model, number, value, metrics):
    dataset, _ = Dataset.objects.get_or_create(name="d", defaults={"task": model.task})
    dv, _ = DatasetVersion.objects.get_or_create(dataset=dataset, number=1, defaults={"content_hash": "h"})
    return ModelVersion.objects.create(
        model=model, number=number, artifact_path=f"tenants/{connection.tenant.pk}/models/x/v{number}",
        artifact_checksum=f"c{number}", metrics=metrics, headline_metric="accuracy", headline_value=value,
        baseline_value=0.5, dataset_version=dv, dataset_hash="h", base_model_id="minilm-l6", method="head",
    )  # fmt: skip


@pytest.fixture
def model(tenant_a):
    connection.set_tenant(tenant_a)
    return Model.objects.create(name="router", task="classification")


def test_a_one_example_change_on_the_same_rows_is_within_noise(model):
    a, b = evaluated(model, 1, 150), evaluated(model, 2, 151)
    noise = model_versions_compare(a=a, b=b)["noise"]
    assert noise["method"] == "paired_bootstrap" and noise["within_noise"] is True
    assert noise["says"].startswith("Within noise: v1 and v2 were scored on the same test rows")
    low, high = noise["interval"]
    assert low <= 0.005 <= high and low <= 0


def test_a_large_change_on_the_same_rows_is_beyond_noise(model):
    a, b = evaluated(model, 1, 120), evaluated(model, 2, 180)
    noise = model_versions_compare(a=a, b=b)["noise"]
    assert noise["within_noise"] is False and noise["interval"][0] > 0
    assert noise["says"].startswith("Beyond noise")


def test_on_different_rows_the_intervals_are_compared_and_it_says_so(model):
    a = evaluated(model, 1, 150)
    b = evaluated(model, 2, 155, rows="other rows")
    noise = model_versions_compare(a=a, b=b)["noise"]
    assert noise["method"] == "interval_overlap" and noise["within_noise"] is True
    assert "different test rows" in noise["says"] and "overlap" in noise["says"]
    far = evaluated(model, 3, 199, rows="third rows")
    assert model_versions_compare(a=a, b=far)["noise"]["within_noise"] is False


def test_versions_evaluated_before_intervals_say_that_noise_cannot_be_judged(model):
    old = _version(model, 1, 0.8, {"headline": {"name": "accuracy", "value": 0.8}})
    new = evaluated(model, 2, 170)
    comparison = model_versions_compare(a=old, b=new)
    assert comparison["headline_delta"] == pytest.approx(0.05)
    assert comparison["noise"]["within_noise"] is None
    assert "v1 was evaluated before confidence intervals were recorded" in comparison["noise"]["says"]
