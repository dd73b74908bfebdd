"""Tenant data for dashboard tests, built through the same services the pages call where it is cheap.

Model versions are written with the ORM: a real one needs a training run, which only the browser
test pays for.
"""

from __future__ import annotations

from django.utils import timezone
from django_tenants.utils import tenant_context

from inference.models import Feedback, Model, ModelVersion, TrainingJob
from inference.services.datasets import dataset_upload

LABELS = ["card_arrival", "change_pin", "lost_card"]
TEXTS = {
    "card_arrival": ["Where is my new card?", "My card has not arrived yet", "When will the card come?",
                     "Card still not delivered", "How long does card delivery take?", "Still waiting on my card",
                     "Has my card been sent?", "Card delivery status please", "no card in the post yet",
                     "When does my card arrive"],
    "change_pin": ["How do I change my PIN?", "I want a new PIN", "Can I reset my PIN?", "Change PIN number",
                   "Where do I update my PIN", "PIN change please", "forgot pin want to change it",
                   "Set a different PIN", "How to pick a new PIN", "Modify my card PIN"],
    "lost_card": ["I lost my card", "My card was stolen", "Cannot find my card anywhere", "Card missing",
                  "Someone took my card", "I think I dropped my card", "Lost card what now",
                  "My wallet with the card is gone", "Block my lost card", "Report a lost card"],
}  # fmt: skip


def csv_bytes(rows_per_label: int = 10, labels=LABELS) -> bytes:
    lines = ["text,category"]
    for label in labels:
        for text in TEXTS[label][:rows_per_label]:
            lines.append(f'"{text}",{label}')
    return ("\n".join(lines) + "\n").encode()


def make_dataset(tenant, name: str = "support"):
    with tenant_context(tenant):
        return dataset_upload(
            name=name, file=csv_bytes(), filename=f"{name}.csv", task="classification",
            text_column="text", label_column="category", actor="factory",
        )  # fmt: skip


def metrics(accuracy: float, labels=LABELS, weak: str | None = None) -> dict:
    per_label = {
        label: {"precision": accuracy, "recall": accuracy, "f1": accuracy, "support": 4} for label in labels
    }
    if weak:
        per_label[weak] = {"precision": 0.5, "recall": 0.25, "f1": 0.33, "support": 4}
    n = len(labels)
    matrix = [[3 if i == j else 0 for j in range(n)] for i in range(n)]
    matrix[0][1] = 1
    return {
        "task": "classification",
        "test_size": 4 * n,
        "accuracy": accuracy,
        "macro_f1": accuracy,
        "micro_f1": accuracy,
        "per_label": per_label,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix},
        "most_confused": [{"true": labels[0], "predicted": labels[1], "count": 1}],
        "misclassified": [
            {"text": "Where is my new card?", "label": labels[0], "predicted": labels[1], "score": 0.61}
        ],
        "headline": {"name": "accuracy", "value": accuracy},
        "baseline": {"name": "tfidf_logreg", "headline": {"name": "accuracy", "value": 0.5}},
        "lift": accuracy - 0.5,
        "latency_ms_p50": 4.2,
        "predictions": [],
    }


def make_model_version(tenant, dataset_version, *, name: str = "support", accuracy: float = 0.9, weak=None):
    with tenant_context(tenant):
        model, _ = Model.objects.get_or_create(name=name, defaults={"task": "classification"})
        number = (model.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        labels = sorted({*dataset_version.labels})
        return ModelVersion.objects.create(
            model=model, number=number, artifact_path=f"models/{name}/v{number}", artifact_checksum="0" * 64,
            labels=labels, metrics=metrics(accuracy, labels, weak), headline_metric="accuracy",
            headline_value=accuracy, baseline_value=0.5, dataset_version=dataset_version,
            dataset_hash=dataset_version.content_hash, base_model_id="minilm-l6", method="head",
        )  # fmt: skip


def make_job(tenant, dataset_version, *, status="running", progress=None, name="support"):
    with tenant_context(tenant):
        return TrainingJob.objects.create(
            dataset_version=dataset_version, model_name=name, base_model_id="minilm-l6", status=status,
            progress=progress or {}, started_at=timezone.now(), created_by="factory",
        )  # fmt: skip


def make_feedback(tenant, *, model_name="support", text="my card never came", label="card_arrival"):
    with tenant_context(tenant):
        return Feedback.objects.create(
            model_name=model_name,
            model_version=1,
            input=text,
            predicted={"label": "lost_card"},
            correct_label=label,
        )
