"""Texts to model inputs: sub-word ids per text (or per window of words), length-sorted chunks, padding.

Training and serving both encode through here, so a model is fed in serving exactly as it was fed
in training. (Uploaded bytes to text is another matter: ``formats/encoding.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def tag_names(entity_types: list[str]) -> list[str]:
    """IOB2 tag set for entity types: O, then B-/I- per type in label order."""
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]


@dataclass
class Segment:
    """A window of one input that fits the model: ids plus, for extraction, the word index of each id."""

    item: int
    input_ids: list[int]
    word_ids: list[int | None] | None = None


def encode_texts(tokenizer, texts: list[str], max_length: int) -> list[Segment]:
    """One truncated segment per text (sequence tasks)."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    return [Segment(i, ids) for i, ids in enumerate(enc["input_ids"])]


def encode_words(tokenizer, words: list[list[str]], max_length: int) -> list[Segment]:
    """Segments of pre-split words; a text longer than ``max_length`` sub-words is cut into several
    windows at word boundaries so that every word gets a prediction."""
    segments: list[Segment] = []
    items = [i for i, w in enumerate(words) if w]  # a text without words needs no model call
    if not items:
        return segments
    enc = tokenizer([words[i] for i in items], is_split_into_words=True, truncation=False)
    budget = max(max_length - 2, 8)
    for row, ids in enumerate(enc["input_ids"]):
        i, wids = items[row], enc.word_ids(row)
        body = [k for k, w in enumerate(wids) if w is not None]
        if not body:
            segments.append(Segment(i, list(ids), list(wids)))
            continue
        prefix, suffix = ids[: body[0]], ids[body[-1] + 1 :]
        start = body[0]
        end_body = body[-1] + 1
        while start < end_body:
            stop = min(start + budget, end_body)
            # Back off to a word start so a word is never split across windows (unless it alone is too long).
            if stop < end_body:
                cut = stop
                while cut > start + 1 and wids[cut] == wids[cut - 1]:
                    cut -= 1
                if cut > start + 1:
                    stop = cut
            segments.append(
                Segment(
                    i,
                    prefix + ids[start:stop] + suffix,
                    [None] * len(prefix) + wids[start:stop] + [None] * len(suffix),
                )
            )
            start = stop
    return segments


def length_chunks(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, cut into chunks: padding stays minimal."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest one; returns (input_ids, attention_mask)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask
