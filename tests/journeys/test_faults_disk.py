"""A full disk under the web process (a size-limited tmpfs the test mounts as the media folder): the
upload is refused with a clear 507 ``storage_full``, leaves no partial or empty file and no version;
once space is freed, the same upload is stored under its own name."""

from __future__ import annotations

import contextlib
import subprocess

import pytest
import requests

from .conftest import FAULT_API_HOST, fault_env, free_port, gunicorn_web, wait_http

pytestmark = pytest.mark.slow

LABELS = ("billing", "shipping", "login")


def big_csv(rows: int = 6000) -> bytes:
    lines = ["text,label"] + [
        f"customer {i} writes about case {i * 7} again,{LABELS[i % 3]}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def small_disk(tmp_path):
    """A 128 KiB filesystem (root only: skipped elsewhere)."""
    mount = tmp_path / "media"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    with contextlib.suppress(Exception):
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_the_upload_cleanly_and_the_retry_keeps_its_name(
    fault_platform, fault_postgres, fault_redis, small_disk, log_dir
):
    env = fault_env(fault_postgres, fault_redis, fault_platform["data_dir"], SCALPEL_MEDIA_ROOT=small_disk)
    port = free_port()
    web = gunicorn_web(env, port, log_dir)
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Host": FAULT_API_HOST, "Authorization": f"Bearer {fault_platform['key']}"}
    data = big_csv()
    assert len(data) > 200 * 1024

    def upload() -> requests.Response:
        return requests.post(
            f"{base}/datasets/bigdisk/versions",
            headers=headers,
            files={"file": ("Big Disk.csv", data, "text/csv")},
            data={"task": "classification"},
            timeout=120,
        )

    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process=web)
        refused = upload()
        assert refused.status_code == 507, refused.text
        error = refused.json()["error"]
        assert (
            error["code"] == "storage_full" and "full" in error["message"] and refused.headers["Retry-After"]
        )
        assert [p for p in small_disk.rglob("*") if p.is_file()] == []  # no partial, empty or temporary file
        assert requests.get(f"{base}/datasets/bigdisk", headers=headers, timeout=30).status_code == 404

        subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
        stored = upload()
        assert stored.status_code == 201, stored.text
        files = [p for p in small_disk.rglob("*") if p.is_file()]
        assert [p.relative_to(small_disk).parts[-3:] for p in files] == [("bigdisk", "v1", "Big_Disk.csv")]
        assert files[0].read_bytes() == data
    finally:
        web.stop()
