"""The dashboard's evaluation pages say how sure a score is: its interval, a small test set, noise."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from inference.engine.confidence import bootstrap_interval, classification_outcomes
from tests import factories


def _with_uncertainty(version, correct: int, n: int = 60):
    """Give a factory version what an evaluation now stores: row outcomes and their interval."""
    gold = [f"l{i % 3}" for i in range(n)]
    pred = [g if i < correct else "other" for i, g in enumerate(gold)]
    outcomes = classification_outcomes(gold, pred, ["l0", "l1", "l2"])
    version.metrics = version.metrics | {
        "test_size": n,
        "confidence_interval": bootstrap_interval(outcomes, "accuracy"),
        "outcomes": outcomes | {"rows": "same rows"},
    }
    version.headline_value = correct / n
    version.save()
    return version


@pytest.fixture
def versions(tenant_a):
    dataset = factories.make_dataset(tenant_a)
    v1 = factories.make_model_version(tenant_a, dataset, accuracy=0.75)
    v2 = factories.make_model_version(tenant_a, dataset, accuracy=0.767)
    old = factories.make_model_version(tenant_a, dataset, accuracy=0.8)  # evaluated before intervals
    with tenant_context(tenant_a):
        return _with_uncertainty(v1, 45), _with_uncertainty(v2, 46), old


def test_the_version_page_shows_the_interval_and_a_small_test_set_warning(alpha_client, versions):
    v1, _, old = versions
    html = alpha_client.get(f"/models/support/v{v1.number}/").content.decode()
    low, high = v1.metrics["confidence_interval"]
    assert f"95% confidence interval: <strong>{low:.3f} – {high:.3f}</strong>" in html
    assert "Small test set: this score rests on 60 test texts (fewer than 100)" in html
    older = alpha_client.get(f"/models/support/v{old.number}/")
    assert older.status_code == 200 and 'id="confidence-interval"' not in older.content.decode()


def test_compare_says_a_one_example_difference_is_within_noise(alpha_client, versions):
    v1, v2, old = versions
    html = alpha_client.get(f"/models/support/compare/?a={v1.number}&b={v2.number}").content.decode()
    assert "Within noise: v1 and v2 were scored on the same test rows" in html
    against_old = alpha_client.get(f"/models/support/compare/?a={old.number}&b={v2.number}").content.decode()
    assert "evaluated before confidence intervals were recorded" in against_old


def test_the_model_page_lists_each_versions_interval(alpha_client, versions):
    v1, _, _ = versions
    low, high = v1.metrics["confidence_interval"]
    html = alpha_client.get("/models/support/").content.decode()
    assert f'title="95% confidence interval">{low:.3f} – {high:.3f}</span>' in html


def test_the_promote_page_says_before_the_click_why_the_gate_would_refuse(alpha_client, tenant_a):
    dataset = factories.make_dataset(tenant_a)
    weak = factories.make_model_version(tenant_a, dataset, accuracy=0.5)  # its baseline scores 0.5 too
    html = alpha_client.get(f"/models/support/v{weak.number}/promote/").content.decode()
    assert "The quality check would refuse this promotion" in html
    assert "less than the required 0.010" in html and 'name="override_reason"' in html
    good = factories.make_model_version(tenant_a, dataset, accuracy=0.9)
    html = alpha_client.get(f"/models/support/v{good.number}/promote/").content.decode()
    assert "quality check" not in html and 'name="override_reason"' not in html
