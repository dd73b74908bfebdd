"""Turning examples into model inputs and targets, and batching them by length."""

from __future__ import annotations

import random
from collections import Counter

import torch

from ..encoding import encode_texts, encode_words, pad, tag_names
from ..types import Example
from ..words import spans_to_tags, word_offsets

IGNORE = -100  # loss ignores this target: special tokens and non-first sub-words


def example_words(ex: Example) -> list[str]:
    """The words of an example exactly as the runtime will segment them."""
    return [ex.text[s:e] for s, e in word_offsets(ex.text, ex.tokens)]


def token_lengths(examples: list[Example], task: str, tokenizer) -> list[int]:
    """Untruncated sub-word lengths (special tokens included), to size max_length."""
    if not examples:
        return []
    if task == "extraction":
        words = [example_words(ex) or ["."] for ex in examples]
        enc = tokenizer(words, is_split_into_words=True, truncation=False)
    else:
        enc = tokenizer([ex.text for ex in examples], truncation=False)
    return [len(ids) for ids in enc["input_ids"]]


def encode_examples(
    examples: list[Example], task: str, labels: list[str], tokenizer, max_length: int
) -> list[tuple[list[int], object]]:
    """(input_ids, target) pairs: a label index, a multi-hot row, or a per-token tag index list."""
    if not examples:
        return []
    if task == "classification":
        index = {lab: i for i, lab in enumerate(labels)}
        segments = encode_texts(tokenizer, [ex.text for ex in examples], max_length)
        return [(seg.input_ids, index[examples[seg.item].label]) for seg in segments]
    if task == "multilabel":
        segments = encode_texts(tokenizer, [ex.text for ex in examples], max_length)
        rows = []
        for seg in segments:
            present = set(examples[seg.item].labels or [])
            rows.append((seg.input_ids, [1.0 if lab in present else 0.0 for lab in labels]))
        return rows
    tag_index = {t: i for i, t in enumerate(tag_names(labels))}
    word_tags = [
        [tag_index[t] for t in spans_to_tags(word_offsets(ex.text, ex.tokens), ex.entities or [])]
        for ex in examples
    ]
    segments = encode_words(tokenizer, [example_words(ex) for ex in examples], max_length)
    rows = []
    for seg in segments:
        targets, previous = [], None
        for w in seg.word_ids:
            # First sub-word of each word carries the word's tag, exactly as the runtime reads it.
            targets.append(word_tags[seg.item][w] if w is not None and w != previous else IGNORE)
            previous = w
        rows.append((seg.input_ids, targets))
    return rows


def bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within buckets of 50 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * 50
    batches = []
    for k in range(0, len(order), span):
        bucket = sorted(order[k : k + span], key=lambda i: lengths[i])
        batches += [bucket[j : j + batch_size] for j in range(0, len(bucket), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(rows: list[tuple[list[int], object]], task: str, pad_id: int):
    """Dynamically padded (input_ids, attention_mask, targets) tensors for one batch."""
    ids, mask = pad([r[0] for r in rows], pad_id)
    if task == "classification":
        targets = torch.tensor([r[1] for r in rows], dtype=torch.long)
    elif task == "multilabel":
        targets = torch.tensor([r[1] for r in rows], dtype=torch.float)
    else:
        targets = torch.full(ids.shape, IGNORE, dtype=torch.long)
        for row, (_, tags) in enumerate(rows):
            targets[row, : len(tags)] = torch.tensor(tags, dtype=torch.long)
    return ids, mask, targets


def class_weights(examples: list[Example], task: str, labels: list[str]) -> torch.Tensor | None:
    """Loss weights against imbalance: 'balanced' weights (classification) or neg/pos ratios (multilabel)."""
    if task == "classification":
        counts = Counter(ex.label for ex in examples)
        n, k = len(examples), len(labels)
        return torch.tensor(
            [n / (k * counts[lab]) if counts[lab] else 1.0 for lab in labels], dtype=torch.float
        )
    if task == "multilabel":
        counts = Counter(lab for ex in examples for lab in ex.labels or [])
        n = len(examples)
        # Capped so a label seen twice does not dominate the loss.
        return torch.tensor(
            [min((n - counts[lab]) / counts[lab], 10.0) if counts[lab] else 1.0 for lab in labels],
            dtype=torch.float,
        )
    return None
