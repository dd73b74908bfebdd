"""Settings refuse what would be unsafe in production, and say what to set instead."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPO

CHECK = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(**env) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SCALPEL_ENV", "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "EMAIL_URL")
    }
    return subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "PYTHONPATH": f"{REPO / 'platform'}:{REPO}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCALPEL_ENV": "production"}, "DJANGO_SECRET_KEY must be set"),
        ({"SCALPEL_ENV": "production", "DJANGO_SECRET_KEY": "short"}, "at least 32 characters"),
        (
            {"SCALPEL_ENV": "production", "DJANGO_SECRET_KEY": "k" * 40, "DJANGO_DEBUG": "1"},
            "DJANGO_DEBUG must be off",
        ),
        ({"SCALPEL_ENV": "prod"}, "set it to development, test or production"),
        # Invitations and password resets go by email: production without a mail server is refused.
        ({"SCALPEL_ENV": "production", "DJANGO_SECRET_KEY": "k" * 40}, "EMAIL_URL must be set"),
    ],
)
def test_unsafe_settings_refuse_to_start_and_say_what_to_set(env, message):
    proc = _start(**env)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


def test_production_with_a_real_secret_starts_without_debug():
    proc = _start(SCALPEL_ENV="production", DJANGO_SECRET_KEY="k" * 40, EMAIL_URL="smtp://mail.example:587")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"
