"""Monitoring: what the predict path records per day, the charts' figures, drift and confidence alerts."""

from __future__ import annotations

import pytest
from django.db import connection

from inference.models import Dataset, DatasetVersion, Model, ModelStatsDay, ModelVersion
from inference.services import serving
from inference.services.monitoring import drift, model_health, percentile, stats_record


@pytest.fixture
def model(tenant_a):
    connection.set_tenant(tenant_a)
    model = Model.objects.create(name="router", task="classification")
    dataset = Dataset.objects.create(name="d", task="classification")
    dv = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="h")
    # At evaluation it answered half "card", half "rate".
    answers = [{"label": "card", "score": 0.9}] * 10 + [{"label": "rate", "score": 0.9}] * 10
    ModelVersion.objects.create(
        model=model, number=1, artifact_path="x", artifact_checksum="c", metrics={"predictions": answers},
        headline_metric="accuracy", headline_value=0.9, dataset_version=dv, dataset_hash="h",
        base_model_id="minilm-l6", method="head",
    )  # fmt: skip
    return model


def test_recorded_requests_add_up_per_day(model):
    stats_record(model="router", version=1, latency_ms=3, predictions=[{"label": "card", "score": 0.8}] * 4)
    stats_record(model="router", version=1, latency_ms=40, predictions=[{"label": "rate", "score": 0.6}])
    stats_record(model="router", version=1, latency_ms=700, error=True)
    (row,) = ModelStatsDay.objects.all()
    assert (row.requests, row.texts, row.errors) == (3, 5, 1)
    assert row.label_counts == {"card": 4, "rate": 1} and row.confidence_sum == pytest.approx(3.8)
    (day,) = model_health(model=model)["daily"]
    assert day["error_rate"] == pytest.approx(1 / 3) and day["confidence"] == pytest.approx(0.76)
    assert (day["p50_ms"], day["p95_ms"]) == (50, 1000)


def test_percentiles_and_drift_are_what_they_say():
    assert percentile([0] * 11, 0.5) is None
    assert percentile([10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.9) == 5
    assert percentile([10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.95) == 10_000  # over the last bound
    assert drift({"a": 1.0}, {"a": 1.0}) == 0 and drift({"a": 1.0}, {"b": 1.0}) == 1
    assert drift({"a": 0.5, "b": 0.5}, {"a": 1.0}) == pytest.approx(0.5)


def test_a_shifted_label_mix_and_low_confidence_raise_alerts_once_there_is_enough_traffic(model):
    stats_record(model="router", version=1, latency_ms=5, predictions=[{"label": "card", "score": 0.4}] * 49)
    assert model_health(model=model)["alerts"] == []  # 49 texts: too few to judge
    stats_record(model="router", version=1, latency_ms=5, predictions=[{"label": "card", "score": 0.4}] * 10)
    health = model_health(model=model)
    assert health["drift"] == pytest.approx(0.5) and health["mean_confidence"] == pytest.approx(0.4)
    assert len(health["alerts"]) == 2 and "moved 0.50" in health["alerts"][0]
    model.drift_threshold, model.confidence_floor = 0.6, 0.3
    assert model_health(model=model)["alerts"] == []


def test_the_predict_path_records_answers_and_failures(model, monkeypatch):
    class Predictor:
        fail = False

        def predict(self, texts, top_k=None):
            if self.fail:
                raise RuntimeError("the runtime broke")
            return [{"label": "card", "score": 0.9} for _ in texts]

    predictor = Predictor()
    monkeypatch.setattr(
        serving, "runtime_cache", lambda: type("C", (), {"get": lambda self, **kw: predictor})()
    )
    serving.predict(model_name="router", inputs=["a", "b"])
    predictor.fail = True
    with pytest.raises(RuntimeError):
        serving.predict(model_name="router", inputs=["c"])
    (row,) = ModelStatsDay.objects.all()
    assert (row.requests, row.texts, row.errors, row.label_counts) == (2, 2, 1, {"card": 2})


def test_the_pages_show_the_alert_the_charts_and_a_csv(model, signed_in):
    stats_record(model="router", version=1, latency_ms=5, predictions=[{"label": "card", "score": 0.4}] * 60)
    admin = signed_in("admin")
    assert "router</a>:</strong> The answers" in admin.get("/").content.decode()
    page = admin.get("/models/router/monitoring/").content.decode()
    assert "moved <strong>0.50</strong>" in page and "Texts predicted per day" in page
    csv_rows = admin.get("/models/router/monitoring.csv").content.decode().splitlines()
    assert csv_rows[0] == "day,version,requests,texts,errors,p50_ms,p95_ms,mean_confidence"
    assert csv_rows[1].split(",")[1:6] == ["1", "1", "60", "0", "5"]
    admin.post("/models/router/monitoring/", {"drift_threshold": "0.9", "confidence_floor": "0.1"})
    model.refresh_from_db()
    assert (model.drift_threshold, model.confidence_floor) == (0.9, 0.1)
    viewer = signed_in("viewer")
    viewer.post("/models/router/monitoring/", {"drift_threshold": "0.1", "confidence_floor": "0.1"})
    model.refresh_from_db()
    assert model.drift_threshold == 0.9
