"""Prediction metrics keep a bounded number of (tenant, model) series, whatever the traffic."""

from __future__ import annotations

from core.metrics import OTHER, PredictionLabels


def test_tenants_and_models_beyond_the_budget_are_counted_as_other():
    labels = PredictionLabels(max_tenants=2, max_models=2)
    assert labels.labels("acme", "intents") == ("acme", "intents")
    assert labels.labels("acme", "sentiment") == ("acme", "sentiment")
    assert labels.labels("acme", "third") == ("acme", OTHER)  # acme's model budget is spent
    assert labels.labels("globex", "intents") == ("globex", "intents")  # each tenant has its own
    assert labels.labels("initech", "intents") == (OTHER, OTHER)  # the tenant budget is spent
    assert labels.labels("acme", "intents") == ("acme", "intents")  # admitted ones keep their series
    seen = {labels.labels(f"t{i}", f"m{j}") for i in range(200) for j in range(5)}
    assert seen == {(OTHER, OTHER)}
