"""Cross-request micro-batching: concurrent requests to one model run as one forward pass.

Leader/follower under one condition variable, no extra thread: a request joins the queue; if no
batch is running it becomes the leader, optionally waits a short window for more requests, takes
everything queued (up to ``max_texts``), computes raw scores for all of it in one call, hands each
request its rows and wakes the others. Requests that arrive while a batch runs queue up and form the
next batch, so under load batches grow by themselves, and a lone request never waits: the window is
only spent while traffic is concurrent (the previous batch held more than one request).

Each request is shaped by the predictor from its own rows (``Predictor.answers``), with its own
``top_k``, so batching changes no answer: scores are those of the same texts run together, which the
predictor makes independent of neighbours (padding is masked; int8 graphs run text by text).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Request:
    texts: list[str]
    tokens: list[list[str]] | None
    done: bool = False
    scores: object = None
    error: BaseException | None = None


class MicroBatcher:
    """Wraps a predictor with the same ``predict`` signature; safe to call from many threads."""

    def __init__(self, predictor, *, wait_ms: float = 2.0, max_texts: int = 128):
        self.predictor = predictor
        self.wait_s = max(float(wait_ms), 0.0) / 1000.0
        self.max_texts = max(int(max_texts), 1)
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False
        self._last_batch_requests = 0
        self.batches = self.requests = self.texts = 0

    def __getattr__(self, name):  # task, labels, runtime, memory_bytes ... come from the predictor
        return getattr(self.predictor, name)

    def predict(
        self, texts, *, top_k: int | None = None, tokens: list[list[str]] | None = None
    ) -> list[dict]:
        texts = list(texts)
        if tokens is not None and len(tokens) != len(texts):
            raise ValueError(f"got {len(tokens)} token lists for {len(texts)} texts")
        if not texts:
            return self.predictor.predict([], top_k=top_k)
        request = _Request(texts, tokens)
        with self._cond:
            self._queue.append(request)
            while not request.done and self._busy:
                self._cond.wait()
            lead = not request.done
            if lead:
                self._busy = True
        if lead:
            self._lead(request)
        if request.error is not None:
            raise request.error
        return self.predictor.answers(texts, request.scores, top_k=top_k)

    def _lead(self, own: _Request) -> None:
        try:
            if self.wait_s and self._last_batch_requests > 1:
                deadline = time.monotonic() + self.wait_s
                with self._cond:
                    while sum(len(r.texts) for r in self._queue) < self.max_texts:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
            while not own.done:
                with self._cond:
                    batch, size = [], 0
                    while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_texts):
                        size += len(self._queue[0].texts)
                        batch.append(self._queue.pop(0))
                self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _run(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        with_tokens = any(r.tokens is not None for r in batch)
        tokens = None
        if with_tokens:
            tokens = [
                tok for r in batch for tok in (r.tokens if r.tokens is not None else [None] * len(r.texts))
            ]
        try:
            scores = self.predictor.scores(texts, tokens)
        except Exception:  # noqa: BLE001 - one bad request must not fail its neighbours: run them alone
            for r in batch:
                try:
                    r.scores = self.predictor.scores(r.texts, r.tokens)
                except Exception as exc:  # noqa: BLE001 - handed to the request's own thread
                    r.error = exc
                r.done = True
            self._count(batch)
            return
        k = 0
        for r in batch:
            r.scores = scores[k : k + len(r.texts)]
            k += len(r.texts)
            r.done = True
        self._count(batch)

    def _count(self, batch: list[_Request]) -> None:
        with self._cond:
            self._last_batch_requests = len(batch)
            self.batches += 1
            self.requests += len(batch)
            self.texts += sum(len(r.texts) for r in batch)
            self._cond.notify_all()

    def stats(self) -> dict:
        with self._cond:
            return {
                "batches": self.batches,
                "requests": self.requests,
                "texts": self.texts,
                "mean_batch_requests": round(self.requests / self.batches, 2) if self.batches else None,
            }
