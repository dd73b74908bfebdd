"""The ``fewshot`` method, in the style of SetFit (Tunstall et al. 2022): contrastive sentence-pair
fine-tuning of the encoder, then a linear head trained on the tuned embeddings.

1. Pairs: every training example is paired ``pairs_per_example`` times, half with a random example
   of its own label (target cosine similarity 1) and half with one of another label (target 0).
2. The encoder learns to put same-label texts close together: mean-pooled embeddings of both sides,
   loss = squared difference between their cosine similarity and the target (one pass by default).
3. The linear (softmax) head is trained on the tuned embeddings as the ``head`` method trains its
   own. The result is a whole fine-tuned encoder plus a head, saved and served exactly like a
   ``full`` version (ONNX int8 included).
"""

from __future__ import annotations

import math
import random
import time

import torch
from torch.nn import functional as F

from ..basemodels import TaskModel
from ..encoding import pad
from .data import bucketed_batches
from .gradient import adamw

HEAD_KEYS = (
    "learning_rate",
    "epochs",
    "batch_size",
    "warmup_ratio",
    "weight_decay",
    "dropout",
    "max_grad_norm",
    "early_stopping_patience",
)


def head_hyperparameters(train_size: int) -> dict:
    """What the head of a fewshot model trains with: the head method's defaults."""
    from .plan import default_hyperparameters

    hp = default_hyperparameters("head", "classification", train_size, [], 1.0)
    return {k: hp[k] for k in HEAD_KEYS}


def contrastive_pairs(labels: list[str], per_example: int, seed: int) -> list[tuple[int, int, float]]:
    """(i, j, target) index pairs: ``per_example`` per example, alternating same label (1.0) and
    another label (0.0). A label with one example gets only pairs with other labels."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    if len(by_label) < 2:
        raise ValueError("method fewshot needs training examples of at least two labels")
    pairs: list[tuple[int, int, float]] = []
    for i, lab in enumerate(labels):
        same = [j for j in by_label[lab] if j != i]
        for k in range(per_example):
            if k % 2 == 0 and same:
                pairs.append((i, rng.choice(same), 1.0))
            else:
                j = rng.randrange(len(labels))
                while labels[j] == lab:
                    j = rng.randrange(len(labels))
                pairs.append((i, j, 0.0))
    rng.shuffle(pairs)
    return pairs


class FewShotTraining:
    """Mixin of TrainingSession: the contrastive loop and the head fit, for classification."""

    def _train_fewshot(self, model: TaskModel, rows: list):
        hp = self.plan.hyperparameters
        labels = [ex.label for ex in self.train]
        pairs = contrastive_pairs(labels, hp["pairs_per_example"], hp["seed"])
        bs, epochs = hp["batch_size"], hp["epochs"]
        steps_per_epoch = max(math.ceil(len(pairs) / bs), 1)
        total = steps_per_epoch * epochs
        trainable = [(n, p) for n, p in model.encoder.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for _, p in trainable if p.ndim >= 2], "weight_decay": hp["weight_decay"]},
            {"params": [p for _, p in trainable if p.ndim < 2], "weight_decay": 0.0},
        ]
        optimizer = adamw([g for g in groups if g["params"]], hp["learning_rate"])
        warmup = int(total * hp["warmup_ratio"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(total - s, 0) / max(total - warmup, 1),
        )
        ids_of = [r[0] for r in rows]
        pad_id = self.tokenizer.pad_token_id or 0
        rng = random.Random(hp["seed"])
        step = seen = 0
        train_seconds = 0.0
        history = []
        yield self._progress(
            "loading",
            message=f"{len(pairs)} sentence pairs ({hp['pairs_per_example']} per training example) "
            "for contrastive fine-tuning",
        )
        model.train()
        # Pairs of similar length share a batch (padding is most of the cost of short texts).
        pair_lengths = [max(len(ids_of[i]), len(ids_of[j])) for i, j, _ in pairs]
        for epoch in range(1, epochs + 1):
            running, count = 0.0, 0
            for indices in bucketed_batches(pair_lengths, bs, rng):
                t0 = time.monotonic()
                batch = [pairs[k] for k in indices]
                # Both sides of every pair in one forward pass.
                ids, mask = pad([ids_of[i] for i, _, _ in batch] + [ids_of[j] for _, j, _ in batch], pad_id)
                emb = model.features(ids, mask)
                left, right = emb[: len(batch)], emb[len(batch) :]
                target = torch.tensor([t for _, _, t in batch], dtype=emb.dtype)
                loss = F.mse_loss(F.cosine_similarity(left, right), target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if hp["max_grad_norm"]:
                    torch.nn.utils.clip_grad_norm_([p for _, p in trainable], hp["max_grad_norm"])
                optimizer.step()
                scheduler.step()
                train_seconds += time.monotonic() - t0
                step, seen = step + 1, seen + len(batch)
                running, count = running + loss.item(), count + 1
                self._state = {
                    "epoch": epoch,
                    "step": step,
                    "total_steps": total,
                    "examples_per_second": round(2 * seen / train_seconds, 1),
                    "eta_seconds": round(train_seconds / step * (total - step), 1),
                }
                yield self._progress("training", loss=running / count)
            history.append({"epoch": epoch, "loss": running / max(count, 1), "val_metric": None})
            yield self._progress(
                "training",
                loss=history[-1]["loss"],
                message=f"epoch {epoch} of {epochs}: contrastive loss {history[-1]['loss']:.4f}",
            )
        model.eval()
        yield self._progress(
            "training",
            loss=history[-1]["loss"],
            message="training the classifier head on the tuned embeddings",
        )
        # The head trains as the head method's does (a linear softmax layer on cached features, AdamW
        # at 1e-2, early stopping on validation when there is one), on the tuned encoder's embeddings.
        for p in model.encoder.parameters():
            p.requires_grad_(False)
        contrastive = self.plan.hyperparameters
        self.plan.hyperparameters = {**contrastive, **head_hyperparameters(len(rows))}
        try:
            info = yield from self._train_head(model, rows)
        finally:
            self.plan.hyperparameters = contrastive
        info.update(
            contrastive_epochs=epochs,
            contrastive_seconds=round(train_seconds, 2),
            pairs=len(pairs),
            contrastive_history=history,
        )
        return info
