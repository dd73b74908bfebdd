"""The Quotas page: every member sees the plan's limits and what is in use, linked from the nav."""

from __future__ import annotations

from tests.factories import tenant_objects


def test_the_quotas_page_shows_limits_and_current_use(signed_in, tenant_a):
    tenant_objects(tenant_a, "q")  # one queued job
    tenant_a.max_concurrent_training_jobs, tenant_a.max_training_jobs_per_day = 1, 0
    tenant_a.save(update_fields=["max_concurrent_training_jobs", "max_training_jobs_per_day"])
    client = signed_in("viewer")
    assert 'href="/quotas/"' in client.get("/").content.decode()
    page = client.get("/quotas/").content.decode()
    concurrent = page.split('id="quota-concurrent_training_jobs"')[1].split("</tr>")[0]
    assert "Training jobs at a time" in concurrent and ">1 <span" in concurrent and "full" in concurrent
    daily = page.split('id="quota-training_jobs_per_day"')[1].split("</tr>")[0]
    assert ">none<" in daily
