"""A real worker trains a version that has only training rows and is judged on the test set held
out when the job was created."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from inference.engine.holdout import evaluation_split
from inference.engine.splits import near_duplicate_key
from inference.models import TrainingJob
from inference.selectors.datasets import dataset_version_to_examples
from inference.services.datasets import dataset_upload
from inference.services.training import training_job_start
from tests.support import banking77_slice, wait_for

pytestmark = pytest.mark.slow


def test_a_version_with_only_training_rows_trains_and_is_judged_on_a_held_out_test_set(
    live_tenant, celery_worker_process
):
    with tenant_context(live_tenant):
        version = dataset_upload(
            name="two-intents",
            file=banking77_slice(labels=2, per_label=40),
            filename="two.csv",
            task="classification",
            label_column="category",
            split="train",
        )
        assert version.split_counts == {"train": 80, "validation": 0, "test": 0}
        job = training_job_start(dataset="two-intents", model_name="router")
        plan = job.evaluation_plan
        assert plan["test_source"] == "carved" and plan["test_size"] == 12

        job = wait_for(
            lambda: (j := TrainingJob.objects.get(pk=job.pk)).status not in TrainingJob.ACTIVE and j,
            timeout=300,
            message="the job to end",
            process=celery_worker_process,
        )
        assert job.status == "succeeded", (job.error, list(job.events.values_list("message", flat=True)))
        metrics = job.model_version.metrics
        assert metrics["test_source"] == "carved" and metrics["test_size"] == 12
        assert metrics["test_statement"] == plan["statement"]
        assert "12 examples held out from the training rows" in metrics["test_statement"]
        events = list(job.events.values_list("message", flat=True))
        assert (
            plan["statement"] in events
            and "Evaluating on the held-out test set and training the baseline." in events
        )
        # The worker judged exactly the rows the engine holds out for this version's seed, and
        # trained on none of them.
        split = evaluation_split(
            dataset_version_to_examples(version), task="classification", seed=plan["seed"]
        )
        predicted = [p["label"] for p in metrics["predictions"]]
        hits = sum(p == ex.label for p, ex in zip(predicted, split.test, strict=True))
        assert metrics["accuracy"] == pytest.approx(hits / 12)
        assert metrics["train_info"]["train_size"] == 68
        held_out = {near_duplicate_key(ex.text) for ex in split.test}
        assert not held_out & {near_duplicate_key(ex.text) for ex in split.examples}
        assert metrics["accuracy"] > 0.5
