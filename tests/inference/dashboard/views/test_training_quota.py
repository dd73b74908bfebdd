"""Start training in the dashboard with a quota of 0: the page says why, no 500 and no job."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from inference.models import TrainingJob
from tests.factories import dataset_with_version


def test_start_training_with_a_daily_quota_of_zero_explains_the_refusal(signed_in, tenant_a):
    with tenant_context(tenant_a):
        dataset_with_version("zero-quota")
    tenant_a.max_training_jobs_per_day = 0
    tenant_a.save(update_fields=["max_training_jobs_per_day"])
    client = signed_in("member")
    response = client.post(
        "/training/start/",
        {"dataset": "zero-quota", "model_name": "m", "method": "auto", "base_model": "minilm-l6"},
    )
    assert response.status_code == 400
    assert "Your plan allows no training jobs per day" in response.content.decode()
    with tenant_context(tenant_a):
        assert not TrainingJob.objects.exists()
