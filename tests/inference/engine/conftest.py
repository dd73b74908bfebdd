"""Fixtures and shared data for the engine tests: plain Python, no Django.

Small slices of banking77 and WNUT-17, and the standard tiny trainings (``trained``), done once per
test session and shared by the training, runtime, evaluation, artifact and ONNX tests.
"""

from __future__ import annotations

import csv
import functools

import pytest

from inference.engine.basemodels import default_base_model_dir
from inference.engine.training import TrainingSession
from inference.engine.types import Example
from inference.engine.words import tags_to_spans, word_offsets
from tests.support import shared_dataset


@pytest.fixture
def dataset_file():
    """Path of a shared dataset file: the test is skipped when it is not there (fails in CI)."""
    return shared_dataset


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    """Overrides the root conftest's Django schema reset: the engine tests never touch a database."""
    yield


def banking(path, labels: int = 8, per_label: int = 12) -> list[Example]:
    """``per_label`` examples of the first ``labels`` intents, split 8/2/2 per label (for 12)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["category"] for r in rows})[:labels]
    out = []
    for name in names:
        texts = [r["text"] for r in rows if r["category"] == name][:per_label]
        for i, text in enumerate(texts):
            split = (
                "train" if i < per_label * 2 // 3 else ("validation" if i < per_label * 5 // 6 else "test")
            )
            out.append(Example(text=text, label=name, split=split))
    return out


def wnut(path, sentences: int = 60) -> list[Example]:
    """The first ``sentences`` CoNLL sentences as extraction examples, split 40/10/10."""
    out, tokens, tags = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in list(fh) + [""]:
            line = line.rstrip("\n")
            if line.strip():
                tok, tag = line.split("\t")
                tokens.append(tok)
                tags.append(tag)
            elif tokens:
                text = " ".join(tokens)
                out.append(
                    Example(
                        text=text, tokens=tokens, entities=tags_to_spans(word_offsets(text, tokens), tags)
                    )
                )
                tokens, tags = [], []
            if len(out) == sentences:
                break
    for i, ex in enumerate(out):
        ex.split = "train" if i < sentences * 2 // 3 else ("validation" if i < sentences * 5 // 6 else "test")
    return out


WNUT_TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]

# The standard tiny trainings (task, method, hyperparameters).
RECIPES = {
    "cls-full": ("classification", "full", {"epochs": 1, "max_length": 32}),
    "cls-lora": ("classification", "lora", {"epochs": 1, "max_length": 32}),
    "cls-head": ("classification", "head", {"max_length": 32}),
    "cls-fewshot": ("classification", "fewshot", {"max_length": 32, "pairs_per_example": 4}),
    "ner-full": ("extraction", "full", {"epochs": 2, "max_length": 64, "learning_rate": 3e-4}),
}


def bank_examples() -> tuple[list[Example], list[str]]:
    path = shared_dataset("banking77/train.csv")
    examples = banking(path)
    return examples, sorted({e.label for e in examples})


def ner_examples() -> list[Example]:
    path = shared_dataset("wnut17/wnut17train.conll")
    return wnut(path)


@functools.cache
def trained_run(recipe: str):
    """The session and progress events of a standard recipe (trained once per test session)."""
    task, method, hp = RECIPES[recipe]
    if task == "extraction":
        examples, labels = ner_examples(), WNUT_TYPES
    else:
        examples, labels = bank_examples()
    session = TrainingSession(
        examples,
        task=task,
        labels=labels,
        base_model_dir=default_base_model_dir(),
        method=method,
        hyperparameters=hp,
    )
    events = list(session.run())
    return session, events


def trained(recipe: str):
    """The TrainedModel of a standard recipe (trained on first use)."""
    return trained_run(recipe)[0].trained


@pytest.fixture(scope="module")
def bank():
    return bank_examples()


@pytest.fixture(scope="module")
def ner():
    return ner_examples()
