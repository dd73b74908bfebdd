"""Runtime: saved models answer exactly like the in-memory ones, in input order, from many threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from inference.engine import artifact
from inference.engine.serving import loading
from inference.engine.serving.torch_predictor import predictor_from_trained
from inference.engine.words import word_offsets

from .conftest import WNUT_TYPES, ner_examples, trained


@pytest.fixture(scope="module")
def trained_cls():
    return {method: trained(f"cls-{method}") for method in ("full", "lora", "head")}


@pytest.mark.parametrize("method", ["full", "lora", "head"])
def test_save_load_predict_identical(bank, trained_cls, tmp_path, method):
    examples, labels = bank
    texts = [e.text for e in examples if e.split == "test"]
    memory = predictor_from_trained(trained_cls[method])
    artifact.save(trained_cls[method], str(tmp_path))
    loaded = loading.load(str(tmp_path))
    assert (loaded.task, loaded.labels, loaded.method) == ("classification", labels, method)
    a, b = memory.predict(texts), loaded.predict(texts)
    assert [x["label"] for x in a] == [x["label"] for x in b]
    for x, y in zip(a, b, strict=True):
        assert x["score"] == pytest.approx(y["score"], abs=1e-5)
        assert len(x["labels"]) == 5 and x["labels"][0] == {"label": x["label"], "score": x["score"]}


def test_private_memory_is_smallest_for_head(trained_cls, tmp_path):
    sizes = {}
    for method, model in trained_cls.items():
        artifact.save(model, str(tmp_path / method))
        sizes[method] = loading.load(str(tmp_path / method)).memory_bytes()
    assert sizes["head"] < sizes["lora"] < sizes["full"]
    assert sizes["lora"] < 2_000_000 and sizes["full"] > 50_000_000


def test_lora_predictors_share_the_base(trained_cls, tmp_path):
    artifact.save(trained_cls["lora"], str(tmp_path))
    one, two = loading.load(str(tmp_path)), loading.load(str(tmp_path))
    w1 = one.model.encoder.embeddings.word_embeddings.weight
    w2 = two.model.encoder.embeddings.word_embeddings.weight
    assert w1.data_ptr() == w2.data_ptr()


def test_order_top_k_and_threads(bank, trained_cls):
    examples, _ = bank
    predictor = predictor_from_trained(trained_cls["full"])
    texts = [e.text for e in examples][:40]
    together = predictor.predict(texts, top_k=2)
    assert all(len(a["labels"]) == 2 for a in together)
    one_by_one = [predictor.predict([t], top_k=2)[0] for t in texts]
    assert [a["label"] for a in together] == [a["label"] for a in one_by_one]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda chunk: predictor.predict(chunk, top_k=2),
                [texts[k : k + 10] for k in range(0, 40, 10)] * 2,
            )
        )
    flat = [a["label"] for r in results[:4] for a in r]
    assert flat == [a["label"] for a in together]
    assert predictor.predict([]) == []


@pytest.fixture(scope="module")
def ner_trained():
    return ner_examples(), trained("ner-full")


def test_extraction_offsets_and_round_trip(ner_trained, tmp_path):
    examples, trained = ner_trained
    memory = predictor_from_trained(trained)
    artifact.save(trained, str(tmp_path))
    loaded = loading.load(str(tmp_path))
    test = [e for e in examples if e.split in ("validation", "test")]
    a = memory.predict([e.text for e in test], tokens=[e.tokens for e in test])
    b = loaded.predict([e.text for e in test], tokens=[e.tokens for e in test])
    assert [[(x["start"], x["end"], x["label"]) for x in r["entities"]] for r in a] == [
        [(x["start"], x["end"], x["label"]) for x in r["entities"]] for r in b
    ]
    for ex, r in zip(test, a, strict=True):
        for ent in r["entities"]:
            assert ex.text[ent["start"] : ent["end"]] == ent["text"]
            assert ent["label"] in WNUT_TYPES


def test_extraction_raw_text_and_long_inputs(ner_trained):
    _, trained = ner_trained
    predictor = predictor_from_trained(trained)
    # Longer than max_length (64) sub-words: windows must cover every word without failing.
    text = " ".join(["Barack Obama visited the Eiffel Tower in Paris, France."] * 20)
    words = word_offsets(text)
    probs = predictor.word_probs([text], None)
    assert probs[0][1].shape == (len(words), 1 + 2 * len(WNUT_TYPES))
    assert (probs[0][1].sum(dim=-1) - 1).abs().max() < 1e-4
    (result,) = predictor.predict([text])
    for ent in result["entities"]:
        assert text[ent["start"] : ent["end"]] == ent["text"]
    assert predictor.predict([""]) == [{"entities": []}]
