"""Full fine-tuning and LoRA: minibatch AdamW over length-bucketed batches, validating every epoch."""

from __future__ import annotations

import math
import random
import time

import torch

from ..basemodels import TaskModel
from ..metrics import HEADLINE_METRIC
from .data import bucketed_batches, collate


class GradientTraining:
    """Mixin of TrainingSession: the optimisation loop for ``full`` and ``lora``."""

    def _train_gradient(self, model: TaskModel, rows: list):
        hp = self.plan.hyperparameters
        bs, epochs = hp["batch_size"], hp["epochs"]
        lengths = [len(r[0]) for r in rows]
        steps_per_epoch = math.ceil(len(rows) / bs)
        total = steps_per_epoch * epochs
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        head_lr = hp.get("head_learning_rate") or hp["learning_rate"]
        groups = []
        # Biases and LayerNorm weights get no weight decay; the freshly initialised head may learn faster.
        for is_head in (False, True):
            for decays in (True, False):
                params = [
                    p for n, p in trainable if n.startswith("head.") == is_head and (p.ndim >= 2) == decays
                ]
                if params:
                    groups.append(
                        {
                            "params": params,
                            "weight_decay": hp["weight_decay"] if decays else 0.0,
                            "lr": head_lr if is_head else hp["learning_rate"],
                        }
                    )
        optimizer = adamw(groups, hp["learning_rate"])
        warmup = int(total * hp["warmup_ratio"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(total - s, 0) / max(total - warmup, 1),
        )
        loss_fn = self._loss_fn()
        # On the CPU: no autocast context, no scaler and no copies, so its numbers are those of
        # the loop before devices existed, to the bit.
        device = self.device
        scaler = device.grad_scaler()
        rng = random.Random(hp["seed"])
        pad_id = self.tokenizer.pad_token_id or 0
        step = seen = 0
        train_seconds = val_seconds = 0.0
        best: tuple[float, dict | None, int, float | None] = (-1.0, None, 0, None)
        history, stale, epoch = [], 0, 0
        # The latest validation score rides on every later event, so a caller that writes only
        # some of them (the worker throttles to one a second) still shows it.
        last_val: float | None = None
        model.train()
        for epoch in range(1, epochs + 1):
            running, count = 0.0, 0
            for batch in bucketed_batches(lengths, bs, rng):
                t0 = time.monotonic()
                ids, mask, y = collate([rows[i] for i in batch], self.task, pad_id)
                if device.is_cuda:
                    ids, mask, y = device.put(ids), device.put(mask), device.put(y)
                with device.autocast():
                    loss = loss_fn(model(ids, mask), y)
                optimizer.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    if hp["max_grad_norm"]:
                        torch.nn.utils.clip_grad_norm_([p for _, p in trainable], hp["max_grad_norm"])
                    optimizer.step()
                else:
                    # fp16: the loss is scaled up so small gradients survive, and unscaled before clipping.
                    scaler.scale(loss).backward()
                    if hp["max_grad_norm"]:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_([p for _, p in trainable], hp["max_grad_norm"])
                    scaler.step(optimizer)
                    scaler.update()
                scheduler.step()
                train_seconds += time.monotonic() - t0
                step, seen = step + 1, seen + len(batch)
                running, count = running + loss.item(), count + 1
                per_step = train_seconds / step
                val_left = (epochs - epoch + 1) * (
                    val_seconds / max(epoch - 1, 1) if epoch > 1 else per_step * len(self.validation) / bs / 3
                )
                self._state = {
                    "epoch": epoch,
                    "step": step,
                    "total_steps": total,
                    "examples_per_second": round(seen / train_seconds, 1),
                    # Kept for the validating events too, so a dashboard never shows a blank ETA.
                    "eta_seconds": round(per_step * (total - step) + (val_left if self.validation else 0), 1),
                    "val_metric": last_val,
                }
                yield self._progress("training", loss=running / count)
            entry = {"epoch": epoch, "loss": running / max(count, 1), "val_metric": None}
            if self.validation:
                t0 = time.monotonic()
                metric, threshold = yield from self._validate(model, {"loss": entry["loss"]})
                val_seconds += time.monotonic() - t0
                entry["val_metric"] = last_val = metric
                if metric > best[0]:
                    snapshot = {n: p.detach().clone() for n, p in trainable}
                    best, stale = (metric, snapshot, epoch, threshold), 0
                elif not (self.task == "extraction" and best[0] <= 0.0):
                    # An extraction model often finds no entity for its first epochs (F1 0): those
                    # do not use up the patience, so a later epoch that finds some is still reached.
                    stale += 1
            history.append(entry)
            yield self._progress(
                "validating",
                loss=entry["loss"],
                val_metric=entry["val_metric"],
                message=epoch_message(self.task, epoch, epochs, entry, best_epoch=best[2]),
            )
            if self.validation and hp["early_stopping_patience"] and stale >= hp["early_stopping_patience"]:
                yield self._progress(
                    "validating",
                    loss=entry["loss"],
                    message=early_stop_message(self.task, stale, best[2], best[0]),
                    val_metric=best[0],
                )
                break
        if best[1] is not None:
            with torch.no_grad():
                params = dict(trainable)
                for name, value in best[1].items():
                    params[name].copy_(value)
        return {
            "epochs_run": epoch,
            "best_epoch": best[2] or epoch,
            "best_val_metric": best[0] if best[1] is not None else None,
            "val_metric_name": HEADLINE_METRIC[self.task],
            "stopped_early": epoch < epochs,
            "examples_per_second": round(seen / train_seconds, 1) if train_seconds else None,
            "training_seconds": round(train_seconds, 2),
            "validation_seconds": round(val_seconds, 2),
            "history": history,
            "threshold": best[3],
        }


def epoch_message(task: str, epoch: int, epochs: int, entry: dict, *, best_epoch: int) -> str:
    """'epoch 2 of 5: training loss 0.412, validation accuracy 0.915 (best so far)'.

    It and ``early_stop_message`` begin with ``progress.EPOCH_END_PREFIXES``, which is how a caller
    knows an event closes an epoch.
    """
    text = f"epoch {epoch} of {epochs}: training loss {entry['loss']:.3f}"
    if entry["val_metric"] is not None:
        text += f", validation {HEADLINE_METRIC[task].replace('_', ' ')} {entry['val_metric']:.3f}"
        text += " (best so far)" if best_epoch == epoch else f" (best: epoch {best_epoch})"
    return text


def early_stop_message(task: str, stale: int, best_epoch: int, best_metric: float) -> str:
    name = HEADLINE_METRIC[task].replace("_", " ")
    return (
        f"Stopping early: validation {name} has not improved for {stale} epoch{'s' if stale > 1 else ''}; "
        f"keeping epoch {best_epoch} ({name} {best_metric:.3f})."
    )


def adamw(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """AdamW, fused where this torch supports it on the weights' device (fewer passes), else foreach."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr, foreach=True)
