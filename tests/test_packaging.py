"""`pip install .` gives a working platform: the wheel carries every template and static file, and
the installed packages find them without the checkout beside them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.support import REPO

APPS = ("console", "core", "inference", "tenants")


def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [line for line in out.stdout.splitlines() if (REPO / line).is_file()]


def test_templates_and_static_files_live_inside_the_apps():
    # A file under a top-level templates/ or static/ folder would not be in the wheel.
    outside = [path for path in _tracked() if path.split("/")[0] in ("templates", "static")]
    assert not outside, f"move these into their app's templates/ or static/ folder: {outside}"


@pytest.mark.slow
def test_the_wheel_ships_templates_and_static_files_and_finds_them_installed(tmp_path):
    # Built from the tracked files alone, as a release would be.
    src = tmp_path / "src"
    for rel in _tracked():
        if rel.startswith("tests/"):
            continue
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / rel).read_bytes())
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            ".",
        ],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("scalpel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {
        rel
        for rel in _tracked()
        if rel.split("/")[0] in APPS and any(part in ("templates", "static") for part in rel.split("/")[1:2])
    }
    assert len(expected) > 50
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)[:10]}"
    assert "config/settings/base.py" in names and "config/gunicorn.py" in names
    demo_data = {f"console/demo_data/{name}" for name in ("banking77_sample.csv", "invoice_lines.jsonl")}
    assert demo_data | {"console/demo_data/LICENSE-banking77", "console/demo_data/ATTRIBUTION.md"} <= names

    # Installed = unpacked on the path; run from elsewhere so that nothing comes from the checkout.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import django; django.setup()\n"
        "from django.template.loader import get_template\n"
        "from django.contrib.staticfiles import finders\n"
        "import inference\n"
        f"assert inference.__file__.startswith({str(site)!r}), inference.__file__\n"
        "for name in ('dashboard/base.html', 'admin/operations.html', 'suspended.html', 'registration/login.html'):\n"
        "    get_template(name)\n"
        "assert finders.find('dashboard/dashboard.css')\n"
        "print('ok')\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "SCALPEL_ENV", "DJANGO_SETTINGS_MODULE")
    }
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(site), "DJANGO_SETTINGS_MODULE": "config.settings.base"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
