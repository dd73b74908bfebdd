"""`manage.py dev` and the demo workspace: when it seeds, and what it prints while the demo trains."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from console import bootstrap, demo
from console.management.commands import dev
from inference.models import Model, ModelVersion, TrainingJob


@pytest.mark.parametrize(
    ("args", "demo_setting", "production", "expected"),
    [
        ([], True, False, True),
        (["--no-demo"], True, False, False),
        ([], False, False, False),  # SCALPEL_DEMO=0
        ([], True, True, False),  # SCALPEL_ENV=production
    ],
)
def test_dev_skips_the_demo_with_no_demo_the_environment_variable_or_in_production(
    monkeypatch, settings, args, demo_setting, production, expected
):
    settings.SCALPEL_DEMO = demo_setting
    if production:
        settings.SCALPEL_ENV = "production"
    asked = {}

    def start(self, *, port, host, demo):
        asked["demo"] = demo

    monkeypatch.setattr(dev.Command, "_start", start)
    monkeypatch.setattr(dev.Command, "_wait_ready", lambda self, port: None)

    call_command("dev", *args, "--exit-after-start")

    assert asked["demo"] is expected


def printer():
    """What `dev`'s watcher says, each thing once, as it does."""
    out, said = io.StringIO(), set()

    def say(key: str, text: str) -> None:
        if key not in said:
            said.add(key)
            out.write(text + "\n")

    return out, say


def succeed(job: TrainingJob) -> None:
    model = Model.objects.create(name=job.model_name, task="classification")
    job.model_version = ModelVersion.objects.create(
        model=model, number=1, artifact_path=f"models/{job.model_name}/v1", artifact_checksum="0" * 64,
        labels=job.dataset_version.labels, metrics={}, headline_metric="accuracy", headline_value=0.9, baseline_value=0.5,
        dataset_version=job.dataset_version, dataset_hash=job.dataset_version.content_hash,
        base_model_id="minilm-l6", method="full",
    )  # fmt: skip
    job.status = TrainingJob.Status.SUCCEEDED
    job.save(update_fields=["status", "model_version"])


def test_dev_says_the_demo_is_training_then_prints_the_call_once_the_model_is_live(
    tenant_a, settings, tmp_path, monkeypatch
):
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(bootstrap, "DEMO_SLUG", tenant_a.slug)
    bootstrap.credentials_save({"demo": {"api_key": demo.demo_seed(tenant=tenant_a)}})
    command, (out, say) = dev.Command(), printer()

    assert command._demo_check(say, port=8123) is False
    assert "models are training in the background" in out.getvalue()
    assert "curl" not in out.getvalue()

    with tenant_context(tenant_a):
        succeed(TrainingJob.objects.get(model_name="banking-intents"))
    command._demo_check(say, port=8123)
    command._demo_check(say, port=8123)  # said once, however often it looks

    printed = out.getvalue()
    assert printed.count("Demo: banking-intents v1 is in production.") == 1
    assert printed.count("curl -s") == 1
    key = bootstrap.credentials_load()["demo"]["api_key"]
    assert (
        f"Bearer {key}" in printed
        and "http://localhost:8123/api/v1/models/banking-intents/predict" in printed
    )
