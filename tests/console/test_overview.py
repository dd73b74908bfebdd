"""The console's front page, job actions and usage per tenant per month, as an operator sees them."""

from __future__ import annotations

import datetime
import io

from django.test import TestCase
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from inference.models import TrainingJob
from inference.services.datasets import dataset_upload
from tenants.models import UsageDay


def test_the_front_page_sums_up_tenants_jobs_queues_workers_and_traffic(operator_client, make_job, tenant_a):
    make_job("running")
    make_job("queued")
    make_job("queued")
    today = timezone.now().date()
    UsageDay.objects.create(tenant=tenant_a, key_prefix="abc", day=today, requests=7, texts=31)
    page = operator_client.get("/admin/").content.decode()
    assert "1 running, 2 queued" in page
    assert "active" in page and "Queue depth" in page and "Workers alive" in page
    assert f"<td>{today:%Y-%m-%d}</td><td>7</td><td>31</td>" in page


def test_an_operator_cancels_a_queued_job_and_retries_it_from_the_jobs_page(
    operator_client, tenant_a, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    rows = "".join(f"nice thing {i},pos\nawful thing {i},neg\n" for i in range(20))
    with tenant_context(tenant_a):
        version = dataset_upload(
            name="ops-retry",
            file=io.BytesIO(f"text,label\n{rows}".encode()),
            filename="r.csv",
            task="classification",
        )
        job = TrainingJob.objects.create(dataset_version=version, model_name="ops", base_model_id="minilm-l6")
    page = operator_client.get("/admin/operations/").content.decode()
    assert f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/cancel/" in page
    operator_client.post(f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/cancel/")
    with schema_context(tenant_a.schema_name):
        assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"
    with TestCase.captureOnCommitCallbacks(execute=False):
        done = operator_client.post(f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/retry/", follow=True)
    assert "retried as job" in done.content.decode()
    with schema_context(tenant_a.schema_name):
        assert TrainingJob.objects.filter(status="queued").exclude(pk=job.pk).count() == 1


def test_a_refused_retry_says_why(operator_client, make_job, tenant_a):
    job = make_job("running")  # only a failed or cancelled job can be retried
    done = operator_client.post(f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/retry/", follow=True)
    assert f"job {job.pk}: Only failed or cancelled jobs can be retried" in done.content.decode()
    with schema_context(tenant_a.schema_name):
        assert TrainingJob.objects.count() == 1


def test_a_job_action_on_an_unknown_tenant_or_action_is_a_404(operator_client, make_job, tenant_a):
    job = make_job("queued")
    assert operator_client.post(f"/admin/operations/jobs/nobody/{job.pk}/cancel/").status_code == 404
    assert (
        operator_client.post(f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/explode/").status_code == 404
    )
    assert operator_client.get(f"/admin/operations/jobs/{tenant_a.slug}/{job.pk}/cancel/").status_code == 405


def test_usage_per_tenant_per_month_with_a_csv_export(operator_client, tenant_a, tenant_b):
    UsageDay.objects.create(
        tenant=tenant_a, key_prefix="a1", day=datetime.date(2026, 3, 2), requests=5, texts=50
    )
    UsageDay.objects.create(
        tenant=tenant_a, key_prefix="a2", day=datetime.date(2026, 3, 9), requests=1, texts=2
    )
    UsageDay.objects.create(
        tenant=tenant_b, key_prefix="b1", day=datetime.date(2026, 3, 9), requests=3, texts=9
    )
    UsageDay.objects.create(
        tenant=tenant_b, key_prefix="b1", day=datetime.date(2026, 4, 1), requests=8, texts=8
    )
    page = operator_client.get("/admin/usage-by-tenant/?month=2026-03").content.decode()
    assert "<td>alpha</td><td>Alpha</td><td>6</td><td>52</td>" in page
    assert "<th>9</th><th>61</th>" in page  # all tenants
    assert '<option value="2026-04"' in page
    export = operator_client.get("/admin/usage-by-tenant/?month=2026-03&format=csv")
    assert export["Content-Disposition"] == 'attachment; filename="usage-2026-03.csv"'
    assert export.content.decode().splitlines() == [
        "month,tenant,name,requests,texts",
        "2026-03,alpha,Alpha,6,52",
        "2026-03,beta,Beta,3,9",
    ]
    assert operator_client.get("/admin/usage-by-tenant/?month=garbage").status_code == 200  # this month
    assert operator_client.get("/admin/usage-by-tenant/?month=2026-03%00").status_code == 400
