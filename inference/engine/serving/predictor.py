"""The base predictor: texts in, the API's answers out, whatever backend computes the logits.

Inputs are tokenised once, sorted by length and run in dynamically padded chunks, then answers are
put back in input order. Extraction labels words by their first sub-word and turns word tags into
character spans with ``words.tags_to_spans`` (the one place spans and tags meet).
"""

from __future__ import annotations

import contextlib
import threading

import torch

from ..encoding import Segment, encode_texts, encode_words, length_chunks, pad, tag_names
from ..words import tags_to_spans, word_offsets

DEFAULT_TOP_K = 5
BATCH_SIZE = 32


def param_bytes(params) -> int:
    """Bytes held by a collection of tensors, each counted once."""
    seen, total = set(), 0
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


_lock_guard = threading.Lock()


def _tokenizer_lock(tokenizer) -> threading.Lock:
    """One lock per tokenizer object: head versions share the base's tokenizer across predictors."""
    with _lock_guard:
        lock = getattr(tokenizer, "_scalpel_lock", None)
        if lock is None:
            lock = threading.Lock()
            with contextlib.suppress(AttributeError):
                tokenizer._scalpel_lock = lock
        return lock


class Predictor:
    """A trained model ready to answer; ``predict`` is safe to call from many threads at once.

    Backends implement ``_logits`` (and say which ``runtime`` they are); everything else, from
    tokenising to the shape of an answer, is shared so every runtime answers alike.
    """

    runtime: str

    def __init__(
        self,
        *,
        task: str,
        labels: list[str],
        method: str,
        tokenizer,
        max_length: int,
        threshold: float | None = None,
        private_bytes: int | None = None,
    ):
        self.task = task
        self.labels = list(labels)
        self.method = method
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.threshold = 0.5 if threshold is None else float(threshold)
        self.tags = tag_names(self.labels) if task == "extraction" else None
        self._private_bytes = private_bytes
        # Fast tokenizers are Rust objects that raise "Already borrowed" when two threads use one at once.
        self._tokenizer_lock = _tokenizer_lock(tokenizer)
        self._pad_id = tokenizer.pad_token_id or 0
        # Rows per forward call; 1 means every text runs alone (no padding, no neighbours).
        self.batch_size = BATCH_SIZE

    def memory_bytes(self) -> int:
        """Approximate bytes held by this predictor alone (a shared base is not counted)."""
        return self._private_bytes or 0

    # -- raw scores -------------------------------------------------------------------------------

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The backend: (batch, labels) or (batch, tokens, tags) logits."""
        raise NotImplementedError

    def _forward(self, segments: list[Segment]) -> list[torch.Tensor]:
        """Probabilities per segment (softmax/sigmoid), computed in length-sorted chunks."""
        out: list[torch.Tensor | None] = [None] * len(segments)
        for chunk in length_chunks([len(s.input_ids) for s in segments], self.batch_size):
            for i, p in zip(chunk, self._chunk_probs([segments[i] for i in chunk]), strict=True):
                out[i] = p
        return out  # type: ignore[return-value]

    def _chunk_probs(self, segments: list[Segment]) -> list[torch.Tensor]:
        """Probabilities of one padded batch: a row per sequence, or per token for extraction."""
        with torch.inference_mode():
            ids, mask = pad([s.input_ids for s in segments], self._pad_id)
            logits = self._logits(ids, mask).float()
            probs = torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, dim=-1)
            if self.task == "extraction":
                return [probs[row, : int(mask[row].sum())] for row in range(len(segments))]
            return list(probs)

    def sequence_probs(self, texts: list[str]) -> torch.Tensor:
        """(n_texts, n_labels) label probabilities for classification/multilabel."""
        if not texts:
            return torch.zeros((0, len(self.labels)))
        with self._tokenizer_lock:
            segments = encode_texts(self.tokenizer, texts, self.max_length)
        return torch.stack(self._forward(segments))

    def word_probs(self, texts: list[str], tokens: list[list[str]] | None) -> list[tuple[list, torch.Tensor]]:
        """Per text: (word offsets, (n_words, n_tags) tag probabilities from each word's first sub-word)."""
        offsets = [word_offsets(t, tokens[i] if tokens is not None else None) for i, t in enumerate(texts)]
        words = [[t[s:e] for s, e in offs] for t, offs in zip(texts, offsets, strict=True)]
        with self._tokenizer_lock:
            segments = encode_words(self.tokenizer, words, self.max_length)
        probs = self._forward(segments) if segments else []
        result = []
        for offs in offsets:
            empty = torch.zeros((len(offs), len(self.tags)))
            empty[:, 0] = 1.0  # a word the model never saw (no sub-words) is outside any entity
            result.append((offs, empty))
        for seg, p in zip(segments, probs, strict=True):
            table = result[seg.item][1]
            previous = None
            for pos, w in enumerate(seg.word_ids):
                if w is not None and w != previous:
                    table[w] = p[pos]
                previous = w
        return result

    # -- answers ----------------------------------------------------------------------------------

    def predict(
        self, texts: list[str], *, top_k: int | None = None, tokens: list[list[str]] | None = None
    ) -> list[dict]:
        """Answers in input order; ``tokens`` (extraction) gives each text's words when pre-tokenised."""
        texts = list(texts)
        return self.answers(texts, self.scores(texts, tokens), top_k=top_k)

    def scores(self, texts: list[str], tokens: list[list[str]] | None = None):
        """Raw scores for ``texts``: a (n, labels) tensor, or per text (word offsets, tag probabilities).

        Rows belong to texts one to one, so scores of several requests can be computed together
        (micro-batching) and split again before ``answers`` shapes each request.
        """
        if tokens is not None and len(tokens) != len(texts):
            raise ValueError(f"got {len(tokens)} token lists for {len(texts)} texts")
        if self.task == "extraction":
            return self.word_probs(texts, tokens)
        return self.sequence_probs(texts)

    def answers(self, texts: list[str], scores, *, top_k: int | None = None) -> list[dict]:
        """Shape raw ``scores`` (from ``scores``) into the API's answers, in input order."""
        if self.task == "extraction":
            return [self._entities(text, offs, p) for text, (offs, p) in zip(texts, scores, strict=True)]
        k = DEFAULT_TOP_K if top_k is None else max(int(top_k), 1)
        answers = []
        for row in scores.tolist():
            ranked = sorted(zip(self.labels, row, strict=True), key=lambda x: -x[1])
            if self.task == "classification":
                answers.append(
                    {
                        "label": ranked[0][0],
                        "score": ranked[0][1],
                        "labels": [{"label": lab, "score": s} for lab, s in ranked[:k]],
                    }
                )
            else:
                chosen = [{"label": lab, "score": s} for lab, s in ranked if s >= self.threshold]
                if top_k is not None:
                    chosen = chosen[:k]
                answers.append({"labels": chosen, "scores": dict(zip(self.labels, row, strict=True))})
        return answers

    def _entities(self, text: str, offsets: list[tuple[int, int]], probs: torch.Tensor) -> dict:
        """Character spans from the argmax tag of each word; score = mean probability of the span's words."""
        if not offsets:
            return {"entities": []}
        best, idx = probs.max(dim=-1)
        tags = [self.tags[i] for i in idx.tolist()]
        entities = []
        for span in tags_to_spans(offsets, tags):
            inside = [k for k, (s, e) in enumerate(offsets) if s >= span.start and e <= span.end]
            score = float(best[inside].mean()) if inside else 0.0
            entities.append(
                {
                    "start": span.start,
                    "end": span.end,
                    "label": span.label,
                    "text": text[span.start : span.end],
                    "score": score,
                }
            )
        return {"entities": entities}
