"""Settings refuse what would be unsafe in production, say what to set instead, and read the
deployment's switches (TLS proxy, HSTS, object storage, logs) from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO

SECRET = "s3cr3t-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # 53 characters, many distinct
# Settings alone, without loading the apps: what a process reads first when it starts.
READ = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({{name: getattr(s, name, None) for name in {names!r}}}, default=str))"
)
# What the test run's own environment may hold (browser tests set DJANGO_ALLOW_ASYNC_UNSAFE, which
# the deployment check rightly flags) never reaches the process under test.
CLEARED = ("SCALPEL_ENV", "SCALPEL_DATA_DIR", "SCALPEL_STORAGE_BACKEND", "LOG_FORMAT")


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("DJANGO_", "AWS_"))}
    return subprocess.run(
        args,
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


def _settings(*names: str, **env) -> dict:
    proc = _run([sys.executable, "-c", READ.format(names=names)], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def production(tmp_path) -> dict:
    return {"SCALPEL_ENV": "production", "DJANGO_SECRET_KEY": SECRET, "SCALPEL_DATA_DIR": str(tmp_path)}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "short"}, "at least 50 characters"),
        ({"DJANGO_SECRET_KEY": "k" * 60}, "at least 50 characters"),  # one character repeated
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
        ({"SCALPEL_DATA_DIR": ""}, "SCALPEL_DATA_DIR must be set in production"),
        ({"SCALPEL_ENV": "prod"}, "set it to development, test or production"),
        ({"SCALPEL_STORAGE_BACKEND": "s3"}, "AWS_STORAGE_BUCKET_NAME is not set"),
        ({"LOG_FORMAT": "xml"}, "set it to json or console"),
        ({"SCALPEL_TRAINING_DEVICE": "gpu"}, "set it to auto, cpu, cuda or cuda:N"),
    ],
)
def test_unsafe_settings_refuse_to_start_and_say_what_to_set(production, env, message):
    proc = _run([sys.executable, "-c", READ.format(names=("DEBUG",))], {**production, **env})
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


def test_production_defaults_behind_a_tls_proxy(production):
    found = _settings(
        "DEBUG",
        "CSRF_TRUSTED_ORIGINS",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "STORAGES",
        "STATIC_ROOT",
        "LOG_FORMAT",
        **production,
        SCALPEL_BASE_DOMAIN="scalpel.example.com",
        SCALPEL_PUBLIC_HOSTS="api.scalpel.example.com",
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert found["DEBUG"] is False
    # Forms posted through the proxy come from https origins: the public hosts and every tenant.
    assert found["CSRF_TRUSTED_ORIGINS"] == [
        "https://api.scalpel.example.com",
        "https://scalpel.example.com",
        "https://*.scalpel.example.com",
    ]
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["SECURE_SSL_REDIRECT"] is True  # the header is trusted, so http can be redirected
    assert found["SESSION_COOKIE_SECURE"] is True and found["CSRF_COOKIE_SECURE"] is True
    assert found["SECURE_HSTS_SECONDS"] == 0  # opt-in
    assert (
        found["STORAGES"]["staticfiles"]["BACKEND"]
        == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert found["STATIC_ROOT"].startswith(production["SCALPEL_DATA_DIR"])
    assert found["LOG_FORMAT"] == "json"


def test_without_the_proxy_header_nothing_redirects_and_development_logs_read_as_text():
    found = _settings(
        "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "LOG_FORMAT", SCALPEL_ENV="development"
    )
    assert found == {"SECURE_PROXY_SSL_HEADER": None, "SECURE_SSL_REDIRECT": False, "LOG_FORMAT": "console"}


def test_object_storage_is_configured_from_the_environment(production):
    found = _settings(
        "STORAGES",
        **production,
        SCALPEL_STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME="scalpel-data",
        AWS_S3_ENDPOINT_URL="http://minio.internal:9000",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="not-a-real-secret",
    )
    default = found["STORAGES"]["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"] == {
        "bucket_name": "scalpel-data",
        "endpoint_url": "http://minio.internal:9000",
        "region_name": "eu-west-1",
        "addressing_style": "path",
        "access_key": "AKIDEXAMPLE",
        "secret_key": "not-a-real-secret",
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }


def test_the_deployment_check_is_clean_in_the_documented_production_configuration(production):
    proc = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            **production,
            "SCALPEL_BASE_DOMAIN": "scalpel.example.com",
            "SCALPEL_PUBLIC_HOSTS": "api.scalpel.example.com",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "DJANGO_SECURE_HSTS_SECONDS": "31536000",
        },
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "no issues" in proc.stdout
