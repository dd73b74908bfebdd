"""Whole public datasets import as they are: banking77 (CSV) and WNUT-17 (CoNLL)."""

from __future__ import annotations

import csv
import time
from collections import Counter

import pytest

from inference.engine.formats import ParseOptions, parse
from inference.engine.splits import assign_splits, label_counts, split_counts
from inference.engine.validation import findings
from inference.engine.words import tags_to_spans, word_offsets
from tests.support import shared_dataset


def _banking(dataset_file):
    data = dataset_file("banking77/train.csv").read_bytes()
    start = time.perf_counter()
    result = parse(data, ParseOptions(task="classification", label_column="category"))
    return result, time.perf_counter() - start


def test_banking77_imports_with_mapped_label_column(dataset_file):
    result, seconds = _banking(dataset_file)
    assert result.errors == []
    assert result.format == "csv"
    assert result.encoding == "utf-8"
    assert result.columns == ["text", "category"]
    assert len(result.examples) == 10_003
    assert len({ex.label for ex in result.examples}) == 77
    assert seconds < 1.5, f"parsing banking77 took {seconds:.2f}s"
    # Quoted fields are unquoted; a quoted field spanning lines keeps its newline.
    assert all(not ex.text.startswith('"') for ex in result.examples)
    with dataset_file("banking77/train.csv").open(newline="", encoding="utf-8") as fh:
        expected = [(row["text"].strip(), row["category"]) for row in csv.DictReader(fh)]
    assert [(ex.text, ex.label) for ex in result.examples] == expected


def test_banking77_default_label_column_is_one_clear_error(dataset_file):
    data = dataset_file("banking77/train.csv").read_bytes()
    result = parse(data, ParseOptions(task="classification"))
    assert result.examples == []
    assert len(result.errors) == 1
    message = result.errors[0].message
    assert "'label'" in message and "'text', 'category'" in message and "label_column" in message


def test_banking77_splits_are_stratified_and_deterministic(dataset_file):
    result, _ = _banking(dataset_file)
    split = assign_splits(result.examples, seed=13)
    counts = split_counts(split)
    assert sum(counts.values()) == 10_003
    assert abs(counts["train"] / 10_003 - 0.8) < 0.02
    assert abs(counts["validation"] / 10_003 - 0.1) < 0.02
    assert abs(counts["test"] / 10_003 - 0.1) < 0.02
    per_split = label_counts(split, "classification")
    for name in ("train", "validation", "test"):
        assert len(per_split[name]) == 77, name
    # Deterministic: a fresh parse and split gives the same assignment; another seed does not.
    again = assign_splits(_banking(dataset_file)[0].examples, seed=13)
    assert [ex.split for ex in again] == [ex.split for ex in split]
    other = assign_splits(result.examples, seed=14)
    assert [ex.split for ex in other] != [ex.split for ex in split]
    codes = {f.code for f in findings(split, "classification")}
    assert "too_few_examples" not in codes and "class_imbalance" in codes


def test_wnut17_train_imports_as_it_is(dataset_file):
    path = dataset_file("wnut17/wnut17train.conll")
    data = path.read_bytes()
    start = time.perf_counter()
    result = parse(data, ParseOptions(task="extraction"))
    seconds = time.perf_counter() - start
    assert result.errors == []
    assert result.format == "conll"
    assert seconds < 2.0, f"parsing WNUT-17 took {seconds:.2f}s"
    assert len(result.examples) == 3_394
    types = {span.label for ex in result.examples for span in ex.entities}
    assert types == {"corporation", "creative-work", "group", "location", "person", "product"}

    # Independent count: B- tags in the raw file (WNUT-17 is valid IOB2, so one per entity).
    b_tags = sum(1 for line in data.decode().split("\n") if line.split("\t")[-1].startswith("B-"))
    assert sum(len(ex.entities) for ex in result.examples) == b_tags == 1_975

    # Read the sentences back independently and check the spans round-trip.
    sentences, current = [], []
    for line in data.decode().split("\n"):
        if line.strip():
            current.append(line.split("\t"))
        elif current:
            sentences.append(current)
            current = []
    assert len(sentences) == len(result.examples)
    for ex, sentence in zip(result.examples, sentences, strict=True):
        tokens = [tok for tok, _ in sentence]
        tags = [tag for _, tag in sentence]
        assert ex.tokens == tokens
        assert ex.text == " ".join(tokens)
        assert tags_to_spans(word_offsets(ex.text, tokens), tags) == ex.entities
        # Entity words collected straight from the tags equal the text the span points at.
        groups: list[tuple[str, list[str]]] = []
        for tok, tag in zip(tokens, tags, strict=True):
            if tag.startswith("B-"):
                groups.append((tag[2:], [tok]))
            elif tag.startswith("I-"):
                groups[-1][1].append(tok)
        assert [(s.label, ex.text[s.start : s.end]) for s in ex.entities] == [
            (label, " ".join(words)) for label, words in groups
        ]
    # The text of each entity equals its tokens joined by spaces.
    first = result.examples[0]
    assert [first.text[s.start : s.end] for s in first.entities] == ["Empire State Building", "ESB"]
    assert Counter(s.label for s in first.entities) == {"location": 2}


def test_a_missing_shared_dataset_skips_or_fails_when_the_datasets_are_required(monkeypatch):
    # CI sets SCALPEL_REQUIRE_DATASETS=1, so that a missing folder cannot pass as skipped tests.
    monkeypatch.delenv("SCALPEL_REQUIRE_DATASETS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared dataset nowhere/missing.csv not found"):
        shared_dataset("nowhere/missing.csv")
    monkeypatch.setenv("SCALPEL_REQUIRE_DATASETS", "1")
    with pytest.raises(pytest.fail.Exception, match="shared dataset nowhere/missing.csv not found"):
        shared_dataset("nowhere/missing.csv")
