"""Prediction logging is per tenant, off by default, and kept only for the retention period."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from inference.models import PredictionLog
from inference.tasks import purge_prediction_logs


def test_old_predictions_are_purged_per_tenant_retention(tenant_a, tenant_b):
    assert tenant_a.prediction_logging is False  # off unless the operator turns it on
    tenant_a.prediction_log_retention_days = 7
    tenant_a.save()
    now = timezone.now()
    for tenant in (tenant_a, tenant_b):
        connection.set_tenant(tenant)
        PredictionLog.objects.create(
            model_name="m",
            model_version=1,
            input="old",
            output={},
            created_at=now - timezone.timedelta(days=10),
        )
        PredictionLog.objects.create(model_name="m", model_version=1, input="new", output={}, created_at=now)
    connection.set_schema_to_public()

    assert purge_prediction_logs() == 1  # beta keeps 30 days, alpha only 7
    connection.set_tenant(tenant_a)
    assert list(PredictionLog.objects.values_list("input", flat=True)) == ["new"]
    connection.set_tenant(tenant_b)
    assert sorted(PredictionLog.objects.values_list("input", flat=True)) == ["new", "old"]
