"""Corrections made in the app: "Correct this", the review queue, new labels, dismiss and undo."""

from __future__ import annotations

import pytest
from django.db import connection

from core.exceptions import ApplicationError
from inference.models import Dataset, DatasetVersion, Feedback, Model, ModelVersion, PredictionLog
from inference.services import review as review_service
from inference.services import serving
from inference.services.feedback import feedback_apply, feedback_dismiss, feedback_restore
from inference.services.review import review_decide, review_queue, review_skip


class OtherVersion:
    """The staging version's answers: it calls anything with "card" a card_arrival."""

    def predict(self, texts, top_k=None):
        return [{"label": "card_arrival" if "card" in t else "exchange_rate", "score": 0.9} for t in texts]


@pytest.fixture
def model(tenant_a, monkeypatch):
    connection.set_tenant(tenant_a)
    monkeypatch.setattr(
        review_service, "runtime_cache", lambda: type("C", (), {"get": lambda s, **k: OtherVersion()})()
    )
    model = Model.objects.create(name="intents", task="classification", prediction_logging=True)
    dataset = Dataset.objects.create(name="tickets", task="classification")
    dv = DatasetVersion.objects.create(
        dataset=dataset, number=1, content_hash="h", labels=["card_arrival", "exchange_rate"]
    )
    for number in (1, 2):
        ModelVersion.objects.create(
            model=model, number=number, artifact_path="x", artifact_checksum=f"c{number}", metrics={},
            headline_metric="accuracy", headline_value=0.9, dataset_version=dv, dataset_hash="h",
            base_model_id="minilm-l6", method="head", labels=["card_arrival", "exchange_rate"],
        )  # fmt: skip
    return model


def log(text: str, label: str, score: float) -> PredictionLog:
    return PredictionLog.objects.create(
        model_name="intents", model_version=1, input=text, output={"label": label, "score": score}
    )


def test_the_queue_puts_disagreements_first_then_the_least_confident(model):
    sure = log("what rate do you use", "exchange_rate", 0.95)
    unsure = log("what is the rate today", "exchange_rate", 0.41)
    disputed = log("my card is late", "exchange_rate", 0.8)
    queue = review_queue(model=model)
    assert [i.log for i in queue] == [disputed, unsure, sure]
    assert (queue[0].other_version, queue[0].other_label) == (2, "card_arrival")


def test_confirming_fixing_and_skipping_take_items_off_the_queue_and_make_corrections(model):
    a, b, c = (
        log("card late", "exchange_rate", 0.5),
        log("rate?", "exchange_rate", 0.6),
        log("hm", "exchange_rate", 0.7),
    )
    fixed = review_decide(log=a, label="card_arrival")
    confirmed = review_decide(log=b)
    review_skip(log=c)
    assert review_queue(model=model) == []
    assert (fixed.correct_label, fixed.source, fixed.predicted["label"]) == (
        "card_arrival",
        "review",
        "exchange_rate",
    )
    assert confirmed.correct_label == "exchange_rate"
    assert Feedback.objects.count() == 2
    with pytest.raises(ApplicationError, match="reviewed this prediction already"):
        review_decide(log=a, label="card_arrival")


def test_a_new_label_needs_its_confirmation_and_then_reaches_the_dataset(model, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with pytest.raises(ApplicationError, match="'lost_card' is not a label"):
        review_decide(log=log("I lost my card", "card_arrival", 0.4), label="lost_card")
    item = log("I lost my card", "card_arrival", 0.4)
    feedback = review_decide(log=item, label="lost_card", new_label=True)
    assert feedback.new_label
    version = feedback_apply(feedback_ids=[feedback.pk], dataset_name="tickets")
    assert "lost_card" in version.labels and version.split_counts.get("test", 0) == 0


def test_a_dismissed_correction_leaves_the_inbox_until_undone(model, signed_in):
    feedback = review_decide(log=log("card?", "card_arrival", 0.5), label="exchange_rate")
    feedback_dismiss(feedback=feedback)
    member = signed_in("member")
    page = member.get("/feedback/").content.decode()
    assert "Set aside" in page and "No corrections waiting" in page
    with pytest.raises(ApplicationError, match="no pending feedback"):
        feedback_apply(feedback_ids=None, dataset_name="tickets")
    feedback_restore(feedback=feedback)
    assert "1 correction waiting" in member.get("/feedback/").content.decode()


def test_the_playground_and_the_queue_correct_through_the_dashboard(model, signed_in):
    member = signed_in("member")
    member.post(
        "/feedback/correct/",
        {"model": "intents", "version": "1", "text": "card late", "label": "card_arrival"},
    )
    refused = member.post(
        "/feedback/correct/", {"model": "intents", "text": "x", "new_label": "brand_new"}, follow=True
    )
    assert "tick “Yes, add this new label”" in refused.content.decode()
    member.post(
        "/feedback/correct/", {"model": "intents", "text": "x", "new_label": "brand_new", "confirm_new": "on"}
    )
    assert sorted(Feedback.objects.values_list("correct_label", flat=True)) == ["brand_new", "card_arrival"]
    item = log("my card is late", "exchange_rate", 0.8)
    page = member.get("/review/?model=intents").content.decode()
    assert (
        "my card is late" in page
        and "v2 answers <strong>card_arrival</strong>" in page
        and 'data-key="1"' in page
    )
    member.post(f"/review/{item.pk}/", {"label": "card_arrival"})
    assert Feedback.objects.filter(source="review", correct_label="card_arrival").exists()
    viewer = signed_in("viewer")
    viewer.post(f"/review/{log('rate', 'exchange_rate', 0.3).pk}/", {"action": "confirm"})
    assert not Feedback.objects.filter(input="rate").exists()


def test_a_model_with_logging_on_logs_its_predictions(model, monkeypatch):
    model.prediction_logging = False
    model.save()

    class Predictor:
        def predict(self, texts, top_k=None):
            return [{"label": "card_arrival", "score": 0.7} for _ in texts]

    monkeypatch.setattr(
        serving, "runtime_cache", lambda: type("C", (), {"get": lambda s, **k: Predictor()})()
    )
    serving.predict(model_name="intents", inputs=["one"])
    assert not PredictionLog.objects.exists()
    model.prediction_logging = True
    model.save()
    serving.predict(model_name="intents", inputs=["two"])
    assert list(PredictionLog.objects.values_list("input", flat=True)) == ["two"]
