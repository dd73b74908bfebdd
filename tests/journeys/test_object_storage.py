"""Datasets and artifacts in an S3-compatible object store: upload on one web node, training on a
worker, serving from a second web node that has never seen the files and fetches them.

The store is moto's server mode, a real S3 HTTP API started by the test on a free port; nothing of
the tenant's data may land on the local disk apart from the serving node's verified cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
import requests
from django_tenants.utils import schema_context

from inference.models import DatasetVersion, ModelVersion
from tenants.services import api_key_create
from tests.support import purge_broker, worker_database_url

from .conftest import Process, free_port, processes_env, python, tiny_csv, wait_http

pytestmark = pytest.mark.slow

BUCKET = "scalpel-journey"


@pytest.fixture
def s3_server(log_dir):
    port = free_port()
    server = Process(
        "moto",
        [python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=processes_env(),
        log_dir=log_dir,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(endpoint + "/moto-api/", process=server, timeout=60)
    yield endpoint
    server.stop()


def test_upload_train_and_serve_from_another_node_through_object_storage(
    live_tenant, s3_server, tmp_path, log_dir
):
    from django.conf import settings

    s3_env = {
        "SCALPEL_STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_server,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "journey",
        "AWS_SECRET_ACCESS_KEY": "journey-secret",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="journey",
        aws_secret_access_key="journey-secret",
    )
    s3.create_bucket(Bucket=BUCKET)
    media = tmp_path / "media"  # where a filesystem storage would have put the files
    common = {
        **s3_env,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SCALPEL_MEDIA_ROOT": media,
    }
    purge_broker()
    ports = {"upload": free_port(), "serve": free_port()}
    caches = {"upload": tmp_path / "cache-upload", "serve": tmp_path / "cache-serve"}
    procs = [
        Process(
            f"web-{node}",
            [python(), "manage.py", "runserver", f"127.0.0.1:{ports[node]}", "--noreload", "--skip-checks"],
            env=processes_env(**common, SCALPEL_ARTIFACT_CACHE_DIR=caches[node]),
            log_dir=log_dir,
        )
        for node in ports
    ]
    worker = Process(
        "worker",
        [python(), "-m", "celery", "-A", "config", "--skip-checks", "worker", "-Q", "training", "-c", "1",
         "-n", f"s3-{live_tenant.slug}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=processes_env(**common, SCALPEL_ARTIFACT_CACHE_DIR=tmp_path / "cache-worker"),
        log_dir=log_dir,
    )  # fmt: skip
    procs.append(worker)
    try:
        for node, proc in zip(ports, procs, strict=False):
            wait_http(f"http://127.0.0.1:{ports[node]}/healthz", process=proc)
        _, key = api_key_create(tenant=live_tenant, name="s3", scopes=["data", "train", "read", "predict"])
        auth = {"Authorization": f"Bearer {key}"}
        upload = f"http://127.0.0.1:{ports['upload']}/api/v1"

        uploaded = requests.post(
            f"{upload}/datasets/tickets/versions",
            headers=auth,
            files={"file": ("tickets.csv", tiny_csv(), "text/csv")},
            data={"task": "classification"},
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
        started = requests.post(
            f"{upload}/training-jobs",
            headers=auth,
            json={"dataset": "tickets", "model": "tickets", "method": "head"},
            timeout=60,
        )
        assert started.status_code == 201, started.text
        job_url = f"{upload}/training-jobs/{started.json()['id']}"
        deadline = time.monotonic() + 300
        while (job := requests.get(job_url, headers=auth, timeout=30).json())["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline and worker.alive(), f"job {job}\n{worker.log()[-3000:]}"
            time.sleep(1)
        assert job["status"] == "succeeded", (job, worker.log()[-3000:])

        # Everything the tenant stored is in the bucket, under its prefix; nothing on local disk.
        with schema_context(live_tenant.schema_name):
            dataset_file = DatasetVersion.objects.get(dataset__name="tickets").source_file
            version = ModelVersion.objects.get(model__name="tickets", number=1)
        keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        prefix = f"tenants/{live_tenant.pk}/"
        assert dataset_file in keys and dataset_file.startswith(prefix)
        artifact = {
            f"{version.artifact_path}/{name}"
            for name in [*version.artifact_manifest["files"], "manifest.json"]
        }
        assert artifact <= keys and version.artifact_path.startswith(prefix)
        assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))

        # The second node has never seen the artifact: it fetches it, verifies it and serves it.
        served = requests.post(
            f"http://127.0.0.1:{ports['serve']}/api/v1/models/tickets/predict",
            headers=auth,
            json={"inputs": ["my parcel never arrived", "refund the double charge"]},
            timeout=120,
        )
        assert served.status_code == 200, served.text
        assert served.json()["version"] == 1 and len(served.json()["predictions"]) == 2
        cached = caches["serve"] / version.artifact_checksum
        assert (cached / "manifest.json").is_file()
        assert {p.name for p in cached.iterdir()} >= {
            Path(n).name for n in version.artifact_manifest["files"]
        }
        assert not caches["upload"].exists() or not any(caches["upload"].iterdir())
    finally:
        for proc in procs:
            proc.stop()
        purge_broker()
