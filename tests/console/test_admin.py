"""The operator console's operations page shows the live workers and which queue has none."""

from __future__ import annotations

import os

import redis
from django.conf import settings

from tenants import workers


def test_the_operations_page_lists_live_workers_and_a_queue_nobody_consumes(operator_client):
    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in r.scan_iter(match=workers.KEY_PREFIX + "*"):
        r.delete(key)
    workers.worker_heartbeat_write(name="default@node-7", queues=["default"], pid=os.getpid(), started_at=0.0)
    try:
        page = operator_client.get("/admin/operations/").content.decode()
    finally:
        r.delete(workers.KEY_PREFIX + "default@node-7")
    assert "default@node-7" in page
    assert "No live worker consumes: training" in page


def test_operators_choose_the_training_queue_per_tenant_and_per_base_model(operator_client, tenant_a):
    from tenants.models import AuditEntry, BaseModel, Tenant

    form = operator_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert 'name="training_queue"' in form and "training-gpu (GPU workers)" in form
    data = {
        "name": tenant_a.name,
        "max_concurrent_training_jobs": 2, "max_training_jobs_per_day": 50, "max_dataset_rows": 500000,
        "rate_limit_per_minute": "", "prediction_log_retention_days": 30, "training_queue": "training-gpu",
        "domains-TOTAL_FORMS": 0, "domains-INITIAL_FORMS": 0,
    }  # fmt: skip
    response = operator_client.post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Tenant.objects.get(pk=tenant_a.pk).training_queue == "training-gpu"
    entry = AuditEntry.objects.filter(action="tenant.quotas_changed", tenant=tenant_a).first()
    assert entry.details["training_queue"] == ["", "training-gpu"]

    base = BaseModel.objects.get(pk="minilm-l6")
    response = operator_client.post(
        "/admin/tenants/basemodel/minilm-l6/change/",
        {"id": "minilm-l6", "name": base.name, "path": "", "description": "", "is_active": "on",
         "training_queue": "training-gpu"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert BaseModel.objects.get(pk="minilm-l6").training_queue == "training-gpu"
    listing = operator_client.get("/admin/tenants/basemodel/").content.decode()
    assert "training-gpu" in listing


def test_the_gpu_queue_is_flagged_without_a_worker_only_once_jobs_are_sent_there(operator_client):
    from tenants.models import BaseModel

    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in r.scan_iter(match=workers.KEY_PREFIX + "*"):
        r.delete(key)
    page = operator_client.get("/admin/operations/").content.decode()
    assert "training-gpu" in page  # its depth is listed with the other queues
    assert "No live worker consumes: default, training." in page
    BaseModel.objects.filter(pk="minilm-l6").update(training_queue="training-gpu")
    page = operator_client.get("/admin/operations/").content.decode()
    assert "No live worker consumes: default, training, training-gpu." in page
