"""The training loop: a generator that yields progress so callers can report, time-box and cancel."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .. import basemodels
from ..basemodels import TaskModel
from ..evaluation import best_threshold, extraction_metrics, gold_tags
from ..runtime import Predictor, encode_texts, encode_words, length_chunks, pad, tag_names
from ..types import TASKS, Example
from ..words import spans_to_tags, tags_to_spans, word_offsets
from .data import (
    IGNORE,
    bucketed_batches,
    class_weights,
    collate,
    encode_examples,
    example_words,
    token_lengths,
)
from .plan import (
    TrainingPlan,
    choose_method,
    default_hyperparameters,
    imbalance_ratio,
    validate_hyperparameters,
)

VAL_METRIC = {"classification": "accuracy", "multilabel": "micro_f1", "extraction": "f1"}
VAL_CHUNK = 128  # examples scored between two progress yields while validating (well under a second)
FEATURE_CHUNK = 64


@dataclass
class TrainedModel:
    """A trained model in memory: what evaluation, artifact.save and runtime need."""

    task: str
    labels: list[str]
    method: str
    model: nn.Module
    tokenizer: Any
    max_length: int
    base_model_dir: str
    base_model_id: str
    threshold: float | None
    hyperparameters: dict
    train_info: dict = field(default_factory=dict)


def _entity_types(labels: list[str]) -> list[str]:
    """Entity types from either types or B-/I- tags (order kept, O dropped)."""
    types: list[str] = []
    for lab in labels:
        name = lab[2:] if lab[:2] in ("B-", "I-") else lab
        if name != "O" and name not in types:
            types.append(name)
    return types


class TrainingSession:
    """Resolve a plan at construction; ``run()`` trains, yielding progress dicts, and sets ``trained``."""

    def __init__(
        self,
        examples: list[Example],
        *,
        task: str,
        labels: list[str],
        base_model_dir: str,
        method: str = "auto",
        hyperparameters: dict | None = None,
        base_model_id: str = basemodels.DEFAULT_BASE_MODEL_ID,
    ):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
        labels = _entity_types(labels) if task == "extraction" else list(dict.fromkeys(labels))
        if not labels or (task == "classification" and len(labels) < 2):
            raise ValueError(
                f"{task} needs {'two or more labels' if task == 'classification' else 'at least one label'}"
            )
        overrides = validate_hyperparameters(hyperparameters)
        self.task, self.labels = task, labels
        self.base_model_dir, self.base_model_id = str(base_model_dir), base_model_id
        # An example without a split is training data; test examples are never looked at here.
        self.train = [ex for ex in examples if (ex.split or "train") == "train"]
        self.validation = [ex for ex in examples if ex.split == "validation"]
        if not self.train:
            raise ValueError("no training examples (split 'train')")
        self._check_labels(self.train + self.validation)
        chosen, reason = choose_method(method, self.train, task, labels)
        try:
            self.tokenizer = basemodels.load_tokenizer(self.base_model_dir)
        except Exception as exc:
            raise ValueError(f"cannot load the tokenizer from {base_model_dir!r}: {exc}") from exc
        limit = int(getattr(self.tokenizer, "model_max_length", 512) or 512)
        hp = default_hyperparameters(
            chosen,
            task,
            len(self.train),
            token_lengths(self.train, task, self.tokenizer),
            imbalance_ratio(self.train, task, labels),
            model_limit=min(limit, 512),
        )
        hp.update(overrides)
        self.plan = TrainingPlan(method=chosen, reason=reason, hyperparameters=hp)
        self.trained: TrainedModel | None = None

    def _check_labels(self, examples: list[Example]) -> None:
        known = set(self.labels)
        unknown: set[str] = set()
        for ex in examples:
            if self.task == "classification":
                if ex.label is None:
                    raise ValueError(f"example {ex.text[:40]!r} has no label")
                unknown.update({ex.label} - known)
            elif self.task == "multilabel":
                unknown.update(set(ex.labels or []) - known)
            else:
                unknown.update({s.label for s in ex.entities or []} - known)
        if unknown:
            raise ValueError(f"examples use labels not in the label list: {', '.join(sorted(unknown))}")

    # -- progress ---------------------------------------------------------------------------------

    def _progress(self, phase: str, **values) -> dict:
        hp = self.plan.hyperparameters
        out = {
            "phase": phase,
            "epoch": 0,
            "epochs": hp["epochs"],
            "step": 0,
            "total_steps": 0,
            "loss": None,
            "val_metric": None,
            "val_metric_name": VAL_METRIC[self.task],
            "examples_per_second": None,
            "eta_seconds": None,
            "message": None,
        }
        out.update(self._state)
        out.update(values)
        out["phase"] = phase
        return out

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> Iterator[dict]:
        """Train; yields progress after every optimisation step and at phase changes."""
        hp = self.plan.hyperparameters
        self._state: dict = {}
        started = time.monotonic()
        previous_threads = torch.get_num_threads()
        try:
            torch.set_num_threads(hp["num_threads"])
            torch.manual_seed(hp["seed"])
            yield self._progress("loading", message=f"loading the base model; plan: {self.plan.reason}")
            model = self._build_model()
            rows = encode_examples(self.train, self.task, self.labels, self.tokenizer, hp["max_length"])
            yield self._progress("loading", message=f"{len(self.train)} training examples encoded")
            if self.plan.method == "head":
                info = yield from self._train_head(model, rows)
            else:
                info = yield from self._train_gradient(model, rows)
            model.eval()
            threshold = info.pop("threshold", None)
            if self.task == "multilabel" and threshold is None:
                threshold = 0.5
            info.update(
                seconds=round(time.monotonic() - started, 2),
                train_size=len(self.train),
                validation_size=len(self.validation),
            )
            self.trained = TrainedModel(
                task=self.task,
                labels=list(self.labels),
                method=self.plan.method,
                model=model,
                tokenizer=self.tokenizer,
                max_length=hp["max_length"],
                base_model_dir=self.base_model_dir,
                base_model_id=self.base_model_id,
                threshold=threshold,
                hyperparameters=dict(hp),
                train_info=info,
            )
            yield self._progress(
                "done", eta_seconds=0.0, message="training finished", val_metric=info.get("best_val_metric")
            )
        finally:
            torch.set_num_threads(previous_threads)

    def _build_model(self) -> TaskModel:
        hp, method = self.plan.hyperparameters, self.plan.method
        encoder = basemodels.load_encoder(self.base_model_dir)
        outputs = len(tag_names(self.labels)) if self.task == "extraction" else len(self.labels)
        model = TaskModel(encoder, outputs, token_level=self.task == "extraction", dropout=hp["dropout"])
        if method == "full":
            if hp["freeze_embeddings"]:
                # The 11.7M-weight word-embedding matrix is half the model; freezing it makes AdamW 4x cheaper.
                encoder.get_input_embeddings().weight.requires_grad_(False)
        elif method == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            config = LoraConfig(
                r=hp["lora_r"],
                lora_alpha=hp["lora_alpha"],
                lora_dropout=hp["lora_dropout"],
                target_modules=list(hp["lora_target_modules"]),
                bias="none",
            )
            inject_adapter_in_model(config, encoder)
            for name, p in encoder.named_parameters():
                p.requires_grad_("lora_" in name)
            if not any(p.requires_grad for p in encoder.parameters()):
                raise ValueError(
                    f"lora_target_modules {hp['lora_target_modules']} matched no layer of the base model"
                )
        else:
            for p in encoder.parameters():
                p.requires_grad_(False)
        return model

    # -- losses and validation --------------------------------------------------------------------

    def _loss_fn(self):
        hp = self.plan.hyperparameters
        weights = class_weights(self.train, self.task, self.labels) if hp["class_weighting"] else None
        if self.task == "multilabel":
            return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y, pos_weight=weights)
        return lambda logits, y: F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), weight=weights, ignore_index=IGNORE
        )

    def _metric(self, probs) -> tuple[float, float | None]:
        """Validation metric (and multilabel threshold) from probabilities, as the runtime would decide."""
        val = self.validation
        if self.task == "classification":
            index = {lab: i for i, lab in enumerate(self.labels)}
            hits = sum(int(row.argmax()) == index[ex.label] for row, ex in zip(probs, val, strict=True))
            return hits / len(val), None
        if self.task == "multilabel":
            threshold, f1 = best_threshold([ex.labels or [] for ex in val], probs.numpy(), self.labels)
            return f1, threshold
        tags = tag_names(self.labels)
        predicted = []
        for offsets, table in probs:
            argmax = [tags[i] for i in table.argmax(dim=-1).tolist()] if len(offsets) else []
            predicted.append(spans_to_tags(offsets, tags_to_spans(offsets, argmax)))
        return extraction_metrics([gold_tags(ex) for ex in val], predicted)["f1"], None

    def _validate(self, model: TaskModel, epoch_state: dict):
        """Score the validation split through the serving code path, yielding between chunks."""
        model.eval()
        predictor = Predictor(
            task=self.task,
            labels=self.labels,
            method=self.plan.method,
            model=model,
            tokenizer=self.tokenizer,
            max_length=self.plan.hyperparameters["max_length"],
        )
        parts: list = []
        for k in range(0, len(self.validation), VAL_CHUNK):
            chunk = self.validation[k : k + VAL_CHUNK]
            if self.task == "extraction":
                parts += predictor.word_probs([ex.text for ex in chunk], [ex.tokens for ex in chunk])
            else:
                parts.append(predictor.sequence_probs([ex.text for ex in chunk]))
            yield self._progress(
                "validating",
                **epoch_state,
                message=f"validating {min(k + VAL_CHUNK, len(self.validation))}/{len(self.validation)}",
            )
        model.train()
        return self._metric(parts if self.task == "extraction" else torch.cat(parts))

    # -- full and lora ----------------------------------------------------------------------------

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
        optimizer = _adamw(groups, hp["learning_rate"])
        warmup = int(total * hp["warmup_ratio"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(total - s, 0) / max(total - warmup, 1),
        )
        loss_fn = self._loss_fn()
        rng = random.Random(hp["seed"])
        pad_id = self.tokenizer.pad_token_id or 0
        step = seen = 0
        train_seconds = val_seconds = 0.0
        best: tuple[float, dict | None, int, float | None] = (-1.0, None, 0, None)
        history, stale, epoch = [], 0, 0
        model.train()
        for epoch in range(1, epochs + 1):
            running, count = 0.0, 0
            for batch in bucketed_batches(lengths, bs, rng):
                t0 = time.monotonic()
                ids, mask, y = collate([rows[i] for i in batch], self.task, pad_id)
                loss = loss_fn(model(ids, mask), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if hp["max_grad_norm"]:
                    torch.nn.utils.clip_grad_norm_([p for _, p in trainable], hp["max_grad_norm"])
                optimizer.step()
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
                }
                yield self._progress(
                    "training",
                    loss=running / count,
                    eta_seconds=round(per_step * (total - step) + (val_left if self.validation else 0), 1),
                )
            entry = {"epoch": epoch, "loss": running / max(count, 1), "val_metric": None}
            if self.validation:
                t0 = time.monotonic()
                metric, threshold = yield from self._validate(model, {"loss": entry["loss"]})
                val_seconds += time.monotonic() - t0
                entry["val_metric"] = metric
                if metric > best[0]:
                    snapshot = {n: p.detach().clone() for n, p in trainable}
                    best, stale = (metric, snapshot, epoch, threshold), 0
                else:
                    stale += 1
            history.append(entry)
            yield self._progress(
                "validating",
                loss=entry["loss"],
                val_metric=entry["val_metric"],
                message=f"epoch {epoch} done",
            )
            if self.validation and hp["early_stopping_patience"] and stale >= hp["early_stopping_patience"]:
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
            "val_metric_name": VAL_METRIC[self.task],
            "stopped_early": epoch < epochs,
            "examples_per_second": round(seen / train_seconds, 1) if train_seconds else None,
            "training_seconds": round(train_seconds, 2),
            "validation_seconds": round(val_seconds, 2),
            "history": history,
            "threshold": best[3],
        }

    # -- head -------------------------------------------------------------------------------------

    def _features(self, model: TaskModel, segments: list):
        """Frozen-encoder features per segment, computed once; yields progress between chunks."""
        out: list = [None] * len(segments)
        pad_id = self.tokenizer.pad_token_id or 0
        done = 0
        with torch.inference_mode():
            for chunk in length_chunks([len(s.input_ids) for s in segments], FEATURE_CHUNK):
                ids, mask = pad([segments[i].input_ids for i in chunk], pad_id)
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
        matrix = torch.stack(rows) if rows else torch.zeros((0, hidden))
        return matrix, where, torch.tensor(targets, dtype=torch.long)

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
            y = collate([(r[0], r[1]) for r in rows], self.task, 0)[2]
            if self.validation:
                vsegs = encode_texts(self.tokenizer, [ex.text for ex in self.validation], hp["max_length"])
                xv = torch.stack((yield from self._features(model, vsegs)))
                vrows = encode_examples(
                    self.validation, self.task, self.labels, self.tokenizer, hp["max_length"]
                )
                yv = collate(vrows, self.task, 0)[2]
        head = model.head
        optimizer = _adamw(
            [{"params": list(head.parameters()), "weight_decay": hp["weight_decay"]}], hp["learning_rate"]
        )
        loss_fn = self._loss_fn()
        bs, epochs = hp["batch_size"], hp["epochs"]
        steps_per_epoch = max(math.ceil(len(x) / bs), 1)
        gen = torch.Generator().manual_seed(hp["seed"])
        best: tuple[tuple[float, float], dict | None, int, float | None] = ((-1.0, 0.0), None, 0, None)
        history, stale, step, seen = [], 0, 0, 0
        t_start = time.monotonic()
        epoch = 0
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(x), generator=gen)
            running = 0.0
            for k in range(0, len(x), bs):
                idx = order[k : k + bs]
                loss = loss_fn(head(F.dropout(x[idx], hp["dropout"])), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
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
                break
        if best[1] is not None:
            head.load_state_dict(best[1])
        return {
            "epochs_run": epoch,
            "best_epoch": best[2] or epoch,
            "best_val_metric": best[0][0] if best[1] is not None else None,
            "val_metric_name": VAL_METRIC[self.task],
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
            return self._metric(torch.sigmoid(logits))
        probs = torch.softmax(logits, dim=-1)
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


def _adamw(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """AdamW, fused on CPU where this torch supports it (fewer passes over the weights), else foreach."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr, foreach=True)
