"""Leakage guard on every new version, corrections included: a training text that repeats a test
text, the same once case, spacing and punctuation are ignored, is listed as a warning in the
version's report (API and dashboard); corrections always go to train."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from inference.models import Example, Feedback, Model
from inference.services.datasets import dataset_upload
from inference.services.feedback import feedback_apply
from tests.factories import raw_key

HOST = "alpha.localhost"
TEST_TEXT = "Where is my new card?"


def _leakage(report: dict) -> dict | None:
    return next((f for f in report["findings"] if f["code"] == "train_test_leakage"), None)


def test_a_correction_nearly_identical_to_a_test_text_is_reported_as_leakage(client, signed_in, tenant_a):
    rows = "".join(f"{label} request number {i},{label},train\n" for label in "ab" for i in range(20))
    rows += f'"{TEST_TEXT}",a,test\nsomething else entirely,b,test\n'
    with tenant_context(tenant_a):
        first = dataset_upload(
            name="cards", file=f"text,label,split\n{rows}".encode(), filename="cards.csv",
            task="classification", label_column="label",
        )  # fmt: skip
        assert _leakage(first.report) is None
        Model.objects.create(name="router", task="classification")
        correction = Feedback.objects.create(
            model_name="router", input="where is my NEW card", correct_label="a"
        )
        version = feedback_apply(feedback_ids=[correction.pk], dataset_name="cards", actor="tester")
        added = Example.objects.get(version=version, text="where is my NEW card")
        assert added.split == "train"  # a correction never becomes a test row

    leak = _leakage(version.report)
    assert leak["severity"] == "warning" and leak["details"]["test"] == 1
    (example,) = leak["details"]["examples"]
    assert example["text"] == TEST_TEXT and example["training_text"] == "where is my NEW card"
    assert "ignoring case, spacing and punctuation" in leak["message"]

    api = client.get(
        f"/api/v1/datasets/cards/versions/{version.number}",
        HTTP_AUTHORIZATION=f"Bearer {raw_key(tenant_a)}",
        HTTP_HOST=HOST,
    ).json()
    assert _leakage(api["report"])["count"] == 1
    page = signed_in("viewer").get(f"/datasets/cards/v{version.number}/").content.decode()
    assert "Test texts also used for learning" in page
