"""ONNX serving: the chosen runtime answers like torch, int8 only when it agrees, micro-batching is exact."""

from __future__ import annotations

import threading

import pytest

from inference.engine import artifact, export
from inference.engine.batching import MicroBatcher
from inference.engine.serving import loading, runtime_choice, sessions, shared
from inference.engine.serving.onnx_predictor import OnnxPredictor
from inference.engine.serving.torch_predictor import predictor_from_trained

from .conftest import trained


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("onnx-cache"))


def texts_of(examples, split):
    return [e.text for e in examples if e.split == split]


def _save(trained_model, directory, info):
    return artifact.save(
        trained_model,
        str(directory),
        extra_files=runtime_choice.runtime_files(info),
        extra_manifest={"runtime": info},
    )


@pytest.fixture(scope="module")
def chosen(bank, onnx_cache, tmp_path_factory):
    """Per method: (predictor, info, artifact dir) of the runtime chosen for the standard tiny models."""
    examples, _ = bank
    out = {}
    for method in ("full", "head", "fewshot"):
        directory = tmp_path_factory.mktemp(f"chosen-{method}")
        model = trained(f"cls-{method}")
        predictor, info = runtime_choice.choose_runtime(
            model, directory, texts_of(examples, "validation"), cache_dir=onnx_cache
        )
        _save(model, directory, info)
        out[method] = (predictor, info, directory)
    return out


@pytest.mark.parametrize("method", ["full", "head", "fewshot"])
def test_chosen_runtime_is_recorded_and_the_loaded_artifact_answers_like_evaluation(
    bank, onnx_cache, chosen, method
):
    examples, _ = bank
    predictor, info, directory = chosen[method]
    assert info["name"] in ("onnx", "onnx-int8") and predictor.runtime == info["name"]
    assert info["agreement"]["onnx_vs_torch"] == 1.0
    if info["name"] == "onnx-int8":
        assert info["agreement"]["onnx_int8_vs_onnx"] >= 0.995
    assert set(info["latency_ms"]) == {"torch", "onnx", "onnx-int8"}
    manifest = artifact.load_manifest(str(directory))
    assert manifest["runtime"]["name"] == info["name"]
    if method in ("full", "fewshot"):  # a fewshot version is a whole fine-tuned model, like full
        assert set(manifest["files"]) & {"model.onnx", "model.int8.onnx"} == {info["file"]}
        assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(manifest["files"])
    artifact.verify(str(directory))
    loaded = loading.load(str(directory), onnx_cache_dir=onnx_cache)
    assert isinstance(loaded, OnnxPredictor) and loaded.runtime == info["name"]
    test = texts_of(examples, "test") + texts_of(examples, "validation")
    assert loaded.predict(test) == predictor.predict(test)  # same graph, same answers, scores too
    # An artifact can always be served by torch too (the fallback), with the labels it had at evaluation.
    by_torch = loading.load(str(directory), runtime="torch")
    assert by_torch.runtime == "torch"
    evaluated = predictor_from_trained(trained(f"cls-{method}")).predict(test)
    assert [a["label"] for a in by_torch.predict(test)] == [a["label"] for a in evaluated]
    if method == "head":  # fp32 ONNX of the shared encoder: exactly torch's labels
        _assert_like_torch(
            loading.load(str(directory), runtime="onnx", onnx_cache_dir=onnx_cache), method, test
        )


def _assert_like_torch(onnx_predictor, method, texts):
    torch_answers = predictor_from_trained(trained(f"cls-{method}")).predict(texts)
    onnx_answers = onnx_predictor.predict(texts)
    assert [a["label"] for a in onnx_answers] == [a["label"] for a in torch_answers]
    for a, b in zip(onnx_answers, torch_answers, strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)


def test_low_int8_agreement_chooses_fp32(bank, onnx_cache, tmp_path, monkeypatch):
    examples, _ = bank
    real = runtime_choice.label_agreement

    def int8_disagrees(a, b, texts, check_stop=None):
        return 0.98 if b.runtime == "onnx-int8" else real(a, b, texts, check_stop)

    monkeypatch.setattr(runtime_choice, "label_agreement", int8_disagrees)
    model = trained("cls-full")
    chosen_predictor, info = runtime_choice.choose_runtime(
        model, tmp_path, texts_of(examples, "validation"), cache_dir=onnx_cache
    )
    assert (chosen_predictor.runtime, info["name"], info["file"]) == ("onnx", "onnx", "model.onnx")
    assert info["agreement"]["onnx_int8_vs_onnx"] == 0.98 and "98.0%" in info["reason"]
    assert not (tmp_path / "model.int8.onnx").exists()
    _save(model, tmp_path, info)
    assert loading.load(str(tmp_path)).runtime == "onnx"
    _assert_like_torch(chosen_predictor, "full", [e.text for e in examples])


def test_lora_and_unvalidated_models_stay_on_torch(bank, tmp_path):
    examples, _ = bank
    chosen, info = runtime_choice.choose_runtime(
        trained("cls-lora"), tmp_path, texts_of(examples, "validation")
    )
    assert chosen.runtime == info["name"] == "torch" and "LoRA" in info["reason"]
    chosen, info = runtime_choice.choose_runtime(trained("cls-full"), tmp_path, [])
    assert chosen.runtime == "torch" and not list(tmp_path.iterdir())


@pytest.mark.parametrize("method", ["full", "head"])
def test_int8_answers_do_not_depend_on_batch_neighbours(bank, chosen, method):
    examples, _ = bank
    predictor, info, _ = chosen[method]
    if info["name"] != "onnx-int8":
        pytest.skip("int8 was not chosen for this tiny model")
    texts = texts_of(examples, "test")
    assert predictor.predict(texts) == [predictor.predict([t])[0] for t in texts]


def test_head_versions_share_one_encoder_and_add_only_kilobytes(onnx_cache, chosen):
    _, _, directory = chosen["head"]
    loaded = [loading.load(str(directory), onnx_cache_dir=onnx_cache) for _ in range(20)]
    assert len({id(p.session) for p in loaded}) == 1
    assert all(p.memory_bytes() < 20_000 for p in loaded)  # 8 labels x 384 floats + bias
    stats = shared.shared_encoder_stats()
    assert stats["shared_encoders"] >= 1 and stats["shared_encoder_bytes"] > 1_000_000


@pytest.mark.parametrize("method", ["full", "head"])
def test_micro_batched_concurrent_predictions_equal_sequential_ones(bank, chosen, method):
    examples, _ = bank
    predictor = chosen[method][0]
    texts = [e.text for e in examples][:48]
    requests = [texts[k : k + 3] for k in range(0, len(texts), 3)]
    sequential = [predictor.predict(r, top_k=2 + i % 3) for i, r in enumerate(requests)]
    batcher = MicroBatcher(predictor, wait_ms=30, max_texts=64)
    batcher._last_batch_requests = 2  # as under load: the leader waits for its neighbours
    results: list = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def call(i):
        barrier.wait()
        results[i] = batcher.predict(requests[i], top_k=2 + i % 3)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = batcher.stats()
    assert stats["requests"] == len(requests) and stats["batches"] < len(requests)
    for got, want in zip(results, sequential, strict=True):
        assert [a["label"] for a in got] == [a["label"] for a in want]
        assert [[x["label"] for x in a["labels"]] for a in got] == [
            [x["label"] for x in a["labels"]] for a in want
        ]
        for a, b in zip(got, want, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)
    assert batcher.predict([]) == []


def test_a_failing_request_does_not_fail_its_batch(bank):
    class Flaky:
        task, runtime = "classification", "torch"

        def scores(self, texts, tokens=None):
            if "boom" in texts:
                raise ValueError("boom")
            return [len(t) for t in texts]

        def answers(self, texts, scores, top_k=None):
            return list(scores)

        def predict(self, texts, top_k=None, tokens=None):
            return []

    batcher = MicroBatcher(Flaky(), wait_ms=0)
    batcher._queue.append(
        __import__("inference.engine.batching", fromlist=["_Request"])._Request(["boom"], None)
    )
    assert batcher.predict(["abc"]) == [3]
    assert batcher._queue == [] and batcher.stats()["requests"] == 2


class _Stop(Exception):
    pass


class _Echo:
    """A predictor that answers every text with its own text as the label, counting its calls."""

    runtime = "fake"

    def __init__(self):
        self.calls = 0

    def predict(self, texts, top_k=None):
        self.calls += 1
        return [{"label": t, "score": 1.0} for t in texts]


def test_agreement_is_compared_in_chunks_and_stops_when_the_caller_says_so():
    texts = [f"text {i}" for i in range(runtime_choice.AGREEMENT_CHUNK * 3)]
    a, b = _Echo(), _Echo()
    assert runtime_choice.label_agreement(a, b, texts, check_stop=lambda: None) == 1.0
    assert a.calls == b.calls == 3

    a, b = _Echo(), _Echo()

    def stop_after_one_chunk():
        if a.calls:
            raise _Stop

    with pytest.raises(_Stop):
        runtime_choice.label_agreement(a, b, texts, check_stop=stop_after_one_chunk)
    assert a.calls == b.calls == 1  # the rest of the texts were never predicted


def test_choosing_a_runtime_stops_at_the_first_check_after_the_export(bank, onnx_cache, tmp_path):
    examples, _ = bank
    checks = []

    def stop_on_second_check():
        checks.append(len(checks))
        if len(checks) == 2:  # the first check is before the export, the second after it
            raise _Stop

    with pytest.raises(_Stop):
        runtime_choice.choose_runtime(
            trained("cls-head"),
            tmp_path,
            texts_of(examples, "validation"),
            cache_dir=onnx_cache,
            check_stop=stop_on_second_check,
        )
    assert len(checks) == 2


def test_int8_answers_are_the_same_on_one_thread_and_on_every_core(bank, tmp_path):
    """A lone text may run on every core (where that is faster); the numbers must be those of one
    thread, exactly."""
    import numpy as np

    examples, _ = bank
    model = trained("cls-full")
    fp32 = export.export_task_model(model.model, tmp_path / "model.onnx")
    int8 = export.quantize(fp32, tmp_path / "model.int8.onnx")
    one, every = sessions.session(int8, threads=1), sessions.session(int8, threads=2)
    tokenizer = model.tokenizer
    for text in texts_of(examples, "test") + texts_of(examples, "validation"):
        enc = tokenizer([text], return_tensors="np")
        feed = {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
        }
        assert np.array_equal(one.run(None, feed)[0], every.run(None, feed)[0]), text


def test_the_first_int8_session_keeps_the_thread_count_that_answers_faster(bank, tmp_path, monkeypatch):
    model = trained("cls-full")
    int8 = export.quantize(
        export.export_task_model(model.model, tmp_path / "model.onnx"), tmp_path / "model.int8.onnx"
    )
    monkeypatch.delenv("SCALPEL_ONNX_INT8_THREADS", raising=False)
    monkeypatch.setattr(sessions, "_cores", lambda: 2)
    threads = lambda sess: sess.get_session_options().intra_op_num_threads  # noqa: E731
    for faster in (1, 2):
        monkeypatch.setattr(sessions, "_int8_threads", None)
        timed = []

        def seconds(sess, faster=faster, timed=timed):
            timed.append(threads(sess))
            return 0.001 if threads(sess) == faster else 0.002

        monkeypatch.setattr(sessions, "_one_text_seconds", seconds)
        first = sessions.int8_session(int8)
        assert sorted(timed) == [1, 2] and threads(first) == faster
        assert sessions.int8_threads() == faster
        later = sessions.int8_session(int8)  # the choice is made once per process
        assert threads(later) == faster and len(timed) == 2
    monkeypatch.setenv("SCALPEL_ONNX_INT8_THREADS", "2")
    assert threads(sessions.int8_session(int8)) == 2 and sessions.int8_threads() == 2


def test_timing_a_lone_text_runs_the_graph_it_is_given(bank, tmp_path):
    model = trained("cls-full")
    int8 = export.quantize(
        export.export_task_model(model.model, tmp_path / "model.onnx"), tmp_path / "model.int8.onnx"
    )
    assert 0 < sessions._one_text_seconds(sessions.session(int8, threads=1), runs=3) < 1
