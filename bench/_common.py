"""Shared set-up for the serving benchmarks: Django on a benchmark database, a tenant, a key, a model.

The database and Redis come from DATABASE_URL / REDIS_URL (default: the embedded services, like
``manage.py dev``). The database named in DATABASE_URL is created when missing and migrated.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "platform")):
    if entry not in sys.path:
        sys.path.insert(0, entry)


def datasets_dir() -> Path:
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def banking_rows(path: str = "train.csv") -> list[dict]:
    with open(datasets_dir() / "banking77" / path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def banking_slice_csv(labels: int, per_label: int) -> bytes:
    rows: dict[str, list[str]] = defaultdict(list)
    for row in banking_rows():
        if (row["category"] in rows or len(rows) < labels) and len(rows[row["category"]]) < per_label:
            rows[row["category"]].append(row["text"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "category"])
    for label, texts in rows.items():
        for text in texts:
            writer.writerow([text, label])
    return out.getvalue().encode()


def _ensure_database(url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def django_setup() -> None:
    """Settings as a production web node would run them (no DEBUG), on the benchmark database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ["DJANGO_DEBUG"] = "0"
    # Metering and rate limiting stay on; the limits are raised so that the load is never refused.
    os.environ.setdefault("SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE", "100000000")
    os.environ.setdefault("SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE", "100000000")
    from config import embedded

    embedded.start()
    if os.environ.get("DATABASE_URL"):
        _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from console import bootstrap

    bootstrap.platform_setup()


def tenant_ensure(slug: str):
    """The bench tenant, recreated empty when the database's models have no files in this data folder.

    The benchmark database outlives a checkout (another clone, a wiped ``.scalpel/``): its rows would
    then point at artifacts that are not here, so the stale tenant is dropped and built again.
    """
    from tenants import services
    from tenants.selectors import tenant_get

    tenant = tenant_get(slug=slug)
    if tenant is not None and _has_missing_artifacts(tenant):
        print(f"  {slug}: its models' files are not in this data folder; rebuilding the tenant", flush=True)
        tenant.auto_drop_schema = True
        tenant.delete(force_drop=True)
        tenant = None
    return tenant or services.tenant_create(slug=slug, name=slug)


def _has_missing_artifacts(tenant) -> bool:
    from django.core.files.storage import default_storage
    from django_tenants.utils import tenant_context

    from inference.models import ModelVersion

    with tenant_context(tenant):
        paths = ModelVersion.objects.values_list("artifact_path", flat=True)
        return any(not default_storage.exists(f"{path}/manifest.json") for path in paths)


def api_key_for(tenant) -> str:
    from tenants import services

    _, raw = services.api_key_create(
        tenant=tenant, name=f"bench-{int(time.time())}", scopes=["predict", "read"]
    )
    return raw


def train_in_process(tenant, *, dataset: str, csv_bytes: bytes, model_name: str, method: str, hp: dict):
    """Upload a dataset and run the training job here (what a training worker does), without Celery."""
    from django_tenants.utils import tenant_context

    from inference.models import TrainingJob
    from inference.services.datasets.uploads import dataset_upload
    from inference.services.training import claim, run, training_job_start

    with tenant_context(tenant):
        dataset_upload(
            name=dataset,
            file=csv_bytes,
            filename=f"{dataset}.csv",
            task="classification",
            label_column="category",
        )
        from unittest import mock

        with mock.patch("inference.services.training.start.training_job_enqueue"):  # no worker: run it here
            job = training_job_start(
                dataset=dataset, model_name=model_name, method=method, hyperparameters=hp
            )
        assert claim.training_job_claim(job.pk)
        run.run_training_job(job.pk)
        job = TrainingJob.objects.get(pk=job.pk)
        if job.status != "succeeded":
            raise SystemExit(f"training failed: {job.error}")
        return job.model_version


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (Linux /proc)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    out = []
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += [int(child), *_children(int(child))]
    except OSError:
        pass
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 120.0, proc=None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout}s")
