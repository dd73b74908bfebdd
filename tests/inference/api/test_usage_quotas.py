"""GET /api/v1/usage also answers the workspace's quotas with their current use."""

from __future__ import annotations

from tests.factories import tenant_objects


def test_usage_answers_each_quota_with_its_current_use_beside_the_rows(api, tenant_a, settings):
    tenant_objects(tenant_a, "q")  # one queued job
    tenant_a.max_concurrent_training_jobs, tenant_a.max_training_jobs_per_day = 3, 9
    tenant_a.save(update_fields=["max_concurrent_training_jobs", "max_training_jobs_per_day"])
    body = api.get("usage").json()
    assert {"results", "count", "limit", "offset", "quotas"} <= set(body)  # the list's fields stay
    assert body["quotas"] == {
        "concurrent_training_jobs": {"limit": 3, "used": 1},
        "training_jobs_per_day": {"limit": 9, "used": 1},
        "dataset_rows_per_version": {"limit": tenant_a.max_dataset_rows, "used": None},
        "requests_per_minute": {"limit": settings.SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE, "used": None},
    }
