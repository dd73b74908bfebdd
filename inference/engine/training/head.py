"""The ``head`` method: a frozen encoder embeds every example once, then a linear head trains on the cache."""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from ..basemodels import TaskModel
from ..encoding import encode_texts, encode_words, length_chunks, pad, tag_names
from ..metrics import HEADLINE_METRIC, gold_tags
from ..types import Example
from ..words import word_offsets
from .data import collate, encode_examples, example_words
from .gradient import adamw, early_stop_message

FEATURE_CHUNK = 64


class HeadTraining:
    """Mixin of TrainingSession: feature caching and the linear-head loop."""

    def _features(self, model: TaskModel, segments: list):
        """Frozen-encoder features per segment, computed once; yields progress between chunks."""
        out: list = [None] * len(segments)
        pad_id = self.tokenizer.pad_token_id or 0
        done = 0
        # no_grad, not inference_mode: the cached tensors later feed an autograd graph (the head).
        with torch.no_grad():
            for chunk in length_chunks([len(s.input_ids) for s in segments], FEATURE_CHUNK):
                ids, mask = pad([segments[i].input_ids for i in chunk], pad_id)
                if self.device.is_cuda:
                    with self.device.autocast():
                        feats = model.features(self.device.put(ids), self.device.put(mask)).float()
                else:
                    feats = model.features(ids, mask)
                for row, i in enumerate(chunk):
                    out[i] = (
                        feats[row, : int(mask[row].sum())].clone()
                        if model.token_level
                        else feats[row].clone()
                    )
                done += len(chunk)
                yield self._progress(
                    "loading", message=f"embedding with the frozen base model {done}/{len(segments)}"
                )
        return out

    def _word_features(self, model: TaskModel, examples: list[Example], with_targets: bool):
        """Features of each word's first sub-word: (matrix, [(example, word)] positions, targets)."""
        segments = encode_words(
            self.tokenizer, [example_words(ex) for ex in examples], self.plan.hyperparameters["max_length"]
        )
        feats = yield from self._features(model, segments)
        tag_index = {t: i for i, t in enumerate(tag_names(self.labels))}
        rows, where, targets = [], [], []
        for seg, f in zip(segments, feats, strict=True):
            ex = examples[seg.item]
            tags = gold_tags(ex) if with_targets else None
            previous = None
            for pos, w in enumerate(seg.word_ids):
                if w is not None and w != previous:
                    rows.append(f[pos])
                    where.append((seg.item, w))
                    if tags is not None:
                        targets.append(tag_index[tags[w]])
                previous = w
        hidden = model.head.in_features
        matrix = torch.stack(rows) if rows else self.device.put(torch.zeros((0, hidden)))
        return matrix, where, self.device.put(torch.tensor(targets, dtype=torch.long))

    def _train_head(self, model: TaskModel, rows: list):
        hp = self.plan.hyperparameters
        model.eval()  # the frozen base never trains; its dropout must stay off while caching features
        if self.task == "extraction":
            x, _, y = yield from self._word_features(model, self.train, True)
            if self.validation:
                xv, where_v, yv = yield from self._word_features(model, self.validation, True)
        else:
            segments = encode_texts(self.tokenizer, [ex.text for ex in self.train], hp["max_length"])
            x = torch.stack((yield from self._features(model, segments)))
            y = self.device.put(collate([(r[0], r[1]) for r in rows], self.task, 0)[2])
            if self.validation:
                vsegs = encode_texts(self.tokenizer, [ex.text for ex in self.validation], hp["max_length"])
                xv = torch.stack((yield from self._features(model, vsegs)))
                vrows = encode_examples(
                    self.validation, self.task, self.labels, self.tokenizer, hp["max_length"]
                )
                yv = self.device.put(collate(vrows, self.task, 0)[2])
        head = model.head
        params = list(head.parameters())
        # The head is all that trains here, so its own rate, when given, is the rate.
        lr = hp.get("head_learning_rate") or hp["learning_rate"]
        optimizer = adamw([{"params": params, "weight_decay": hp["weight_decay"]}], lr)
        loss_fn = self._loss_fn()
        bs, epochs = hp["batch_size"], hp["epochs"]
        steps_per_epoch = max(math.ceil(len(x) / bs), 1)
        # Linear warm-up, then a constant rate: with early stopping over up to 300 cheap epochs, a
        # decay towards the last planned epoch would starve the epochs that actually run.
        warmup = int(steps_per_epoch * epochs * hp["warmup_ratio"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / max(warmup, 1), 1.0))
        gen = torch.Generator().manual_seed(hp["seed"])
        best: tuple[tuple[float, float], dict | None, int, float | None] = ((-1.0, 0.0), None, 0, None)
        history, stale, step, seen = [], 0, 0, 0
        t_start = time.monotonic()
        epoch = 0
        for epoch in range(1, epochs + 1):
            order = self.device.put(torch.randperm(len(x), generator=gen))
            running = 0.0
            for k in range(0, len(x), bs):
                idx = order[k : k + bs]
                loss = loss_fn(head(F.dropout(x[idx], hp["dropout"])), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if hp["max_grad_norm"]:
                    torch.nn.utils.clip_grad_norm_(params, hp["max_grad_norm"])
                optimizer.step()
                scheduler.step()
                running += loss.item()
                step, seen = step + 1, seen + len(idx)
            entry = {"epoch": epoch, "loss": running / steps_per_epoch, "val_metric": None}
            if self.validation:
                with torch.no_grad():
                    entry["val_metric"], threshold = self._head_metric(
                        head, xv, where_v if self.task == "extraction" else None
                    )
                    val_loss = float(loss_fn(head(xv), yv))
                # Small validation sets tie often: on a tie, the lower validation loss wins.
                score = (entry["val_metric"], -val_loss)
                if score > best[0]:
                    best, stale = (
                        (score, {k: v.clone() for k, v in head.state_dict().items()}, epoch, threshold),
                        0,
                    )
                else:
                    stale += 1
            history.append(entry)
            elapsed = time.monotonic() - t_start
            self._state = {
                "epoch": epoch,
                "step": step,
                "total_steps": steps_per_epoch * epochs,
                "examples_per_second": round(seen / max(elapsed, 1e-6), 1),
            }
            yield self._progress(
                "training",
                loss=entry["loss"],
                val_metric=entry["val_metric"],
                eta_seconds=round(elapsed / epoch * (epochs - epoch), 1),
            )
            if self.validation and hp["early_stopping_patience"] and stale >= hp["early_stopping_patience"]:
                yield self._progress(
                    "training",
                    loss=entry["loss"],
                    message=early_stop_message(self.task, stale, best[2], best[0][0]),
                    val_metric=best[0][0],
                )
                break
        if best[1] is not None:
            head.load_state_dict(best[1])
        return {
            "epochs_run": epoch,
            "best_epoch": best[2] or epoch,
            "best_val_metric": best[0][0] if best[1] is not None else None,
            "val_metric_name": HEADLINE_METRIC[self.task],
            "stopped_early": epoch < epochs,
            "examples_per_second": round(seen / max(time.monotonic() - t_start, 1e-6), 1),
            "history": history,
            "threshold": best[3],
        }

    def _head_metric(
        self, head: nn.Module, xv: torch.Tensor, where: list | None
    ) -> tuple[float, float | None]:
        logits = head(xv)
        if self.task == "multilabel":
            return self._metric(self.device.host(torch.sigmoid(logits)))
        probs = self.device.host(torch.softmax(logits, dim=-1))
        if self.task == "classification":
            return self._metric(probs)
        tables = []
        for ex in self.validation:
            offsets = word_offsets(ex.text, ex.tokens)
            table = torch.zeros((len(offsets), probs.shape[-1]))
            table[:, 0] = 1.0
            tables.append((offsets, table))
        for (item, w), row in zip(where, probs, strict=True):
            tables[item][1][w] = row
        return self._metric(tables)
