"""The training loop: a generator that yields progress so callers can report, time-box and cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from .. import basemodels
from ..basemodels import TaskModel
from ..device import TrainingDevice, resolve_device
from ..encoding import tag_names
from ..metrics import HEADLINE_METRIC, best_threshold, extraction_metrics, gold_tags
from ..serving.torch_predictor import TorchPredictor
from ..types import TASKS, WHOLE_MODEL_METHODS, Example, TrainedModel
from ..words import spans_to_tags, tags_to_spans
from .data import IGNORE, class_weights, encode_examples, token_lengths
from .fewshot import FewShotTraining
from .gradient import GradientTraining
from .head import HeadTraining
from .plan import (
    TrainingPlan,
    choose_method,
    default_hyperparameters,
    freeze_layers_problem,
    imbalance_ratio,
    inapplicable,
    learning_rate_trials,
    validate_hyperparameters,
)
from .progress import TrainingProgress

VAL_CHUNK = 128  # examples scored between two progress yields while validating (well under a second)


def _entity_types(labels: list[str]) -> list[str]:
    """Entity types from either types or B-/I- tags (order kept, O dropped)."""
    types: list[str] = []
    for lab in labels:
        name = lab[2:] if lab[:2] in ("B-", "I-") else lab
        if name != "O" and name not in types:
            types.append(name)
    return types


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's stack of transformer layers (the ModuleList as long as num_hidden_layers)."""
    count = int(getattr(encoder.config, "num_hidden_layers", 0))
    for module in encoder.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise ValueError(
        f"cannot find the {count} transformer layers of this {encoder.config.model_type} encoder"
    )


def freeze_lowest_layers(encoder: nn.Module, count: int) -> int:
    """Freeze the embeddings (all of them) and the ``count`` lowest transformer layers, so that
    backward stops above them: each frozen layer saves its whole backward pass."""
    if not count:
        return 0
    layers = encoder_layers(encoder)
    problem = freeze_layers_problem(count, len(layers))
    if problem:
        raise ValueError(f"freeze_layers={count} {problem}")
    embeddings = getattr(encoder, "embeddings", None)
    if embeddings is None:
        raise ValueError(f"cannot find the embeddings of this {encoder.config.model_type} encoder")
    embeddings.requires_grad_(False)
    for layer in layers[:count]:
        layer.requires_grad_(False)
    return count


class TrainingSession(GradientTraining, HeadTraining, FewShotTraining):
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
        device: str | TrainingDevice = "auto",
        time_budget_seconds: float | None = None,
    ):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
        labels = _entity_types(labels) if task == "extraction" else list(dict.fromkeys(labels))
        if not labels or (task == "classification" and len(labels) < 2):
            raise ValueError(
                f"{task} needs {'two or more labels' if task == 'classification' else 'at least one label'}"
            )
        overrides = validate_hyperparameters(hyperparameters, method=method)
        # Resolved before anything is loaded: a worker asked for a GPU it lacks refuses at once.
        self.device = device if isinstance(device, TrainingDevice) else resolve_device(device)
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
            # A batch size the user chose keeps the CPU's learning rates too, unless also chosen.
            gpu=self.device.is_cuda and "batch_size" not in overrides,
        )
        # Only auto gets here with knobs its method does not use (an explicit method refuses them
        # above): they are left out of the plan, and the reason says so.
        ignored = inapplicable(overrides, chosen)
        hp.update({k: v for k, v in overrides.items() if k not in ignored})
        reason += "".join(f"; ignored {name}: {why}" for name, why in ignored.items())
        if (
            method == "auto"
            and chosen == "full"
            and not {"learning_rate", "learning_rate_trials"} & set(overrides)
        ):
            trials = learning_rate_trials(
                hp, train_size=len(self.train), validation_size=len(self.validation)
            )
            if trials:
                hp["learning_rate_trials"] = trials
                reason += (
                    f"; tries learning rates {', '.join(f'{r:g}' for r in trials)} on the validation split "
                    f"and keeps the best (each trial is a whole training run: up to {len(trials)}x the "
                    "training time, fewer trials when the time budget would not allow them)"
                )
        self.time_budget_seconds = time_budget_seconds
        self.plan = TrainingPlan(
            method=chosen, reason=reason, hyperparameters=hp, ignored=ignored, device=self.device.as_dict()
        )
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

    def _progress(self, phase: str, **values) -> TrainingProgress:
        hp = self.plan.hyperparameters
        out: TrainingProgress = {
            "phase": phase,
            "epoch": 0,
            "epochs": hp["epochs"],
            "step": 0,
            "total_steps": 0,
            "loss": None,
            "val_metric": None,
            "val_metric_name": HEADLINE_METRIC[self.task],
            "examples_per_second": None,
            "eta_seconds": None,
            "message": None,
        }
        out.update(self._state)
        out.update(values)
        out["phase"] = phase
        return out

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> Iterator[TrainingProgress]:
        """Train; yields progress after every optimisation step and at phase changes."""
        hp = self.plan.hyperparameters
        self._state: dict = {}
        started = time.monotonic()
        previous_threads = torch.get_num_threads()
        try:
            torch.set_num_threads(hp["num_threads"])
            torch.manual_seed(hp["seed"])
            yield self._progress("loading", message=f"loading the base model; plan: {self.plan.reason}")
            trials = hp.get("learning_rate_trials") or []
            model = None if trials and self.validation else self._placed(self._build_model())
            rows = encode_examples(self.train, self.task, self.labels, self.tokenizer, hp["max_length"])
            yield self._progress("loading", message=f"{len(self.train)} training examples encoded")
            if model is None:
                model, info = yield from self._learning_rate_trials(rows, trials, started)
            elif self.plan.method == "head":
                info = yield from self._train_head(model, rows)
            elif self.plan.method == "fewshot":
                info = yield from self._train_fewshot(model, rows)
            else:
                info = yield from self._train_gradient(model, rows)
            if self.device.is_cuda:
                # Export, evaluation and serving read a CPU model: the artifact is the same whatever trained it.
                model.cpu()
                torch.cuda.empty_cache()
            model.eval()
            threshold = info.pop("threshold", None)
            if self.task == "multilabel" and threshold is None:
                threshold = 0.5
            info.update(
                seconds=round(time.monotonic() - started, 2),
                train_size=len(self.train),
                validation_size=len(self.validation),
                device=self.device.as_dict(),
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
            history = info.get("history") or [{}]
            yield self._progress(
                "done",
                eta_seconds=0.0,
                message="training finished",
                val_metric=info.get("best_val_metric"),
                loss=history[-1].get("loss"),  # the last epoch's, still shown once training is over
            )
        finally:
            torch.set_num_threads(previous_threads)

    def _learning_rate_trials(self, rows: list, rates: list[float], started: float):
        """Train once per learning rate (the default first), keep the model with the best validation
        score. A trial is skipped when, at the pace so far, it would use more than half of the time
        budget left (export and evaluation still need the rest)."""
        hp = self.plan.hyperparameters
        name = HEADLINE_METRIC[self.task].replace("_", " ")
        results: list[dict] = []
        best = None
        for k, rate in enumerate(rates):
            if k and self.time_budget_seconds:
                spent = time.monotonic() - started
                if spent / k > (self.time_budget_seconds - spent) / 2:
                    yield self._progress(
                        "validating",
                        message=f"learning-rate trials stopped after {k} of {len(rates)}: another would "
                        f"take about {spent / k:.0f} s of the {self.time_budget_seconds - spent:.0f} s left",
                    )
                    break
            hp["learning_rate"] = rate
            torch.manual_seed(hp["seed"])
            model = self._placed(self._build_model())
            t0 = time.monotonic()
            yield self._progress("training", message=f"learning-rate trial {k + 1} of {len(rates)}: {rate:g}")
            info = yield from _offset_steps(self._train_gradient(model, rows), k, len(rates))
            score = info["best_val_metric"]
            results.append(
                {
                    "learning_rate": rate,
                    "val_metric": score,
                    "best_epoch": info["best_epoch"],
                    "epochs_run": info["epochs_run"],
                    "seconds": round(time.monotonic() - t0, 1),
                }
            )
            yield self._progress(
                "validating",
                message=f"learning-rate trial {k + 1} of {len(rates)}: {rate:g} reached validation {name} "
                f"{score if score is not None else float('nan'):.3f}",
            )
            if best is None or (score is not None and (best[0] is None or score > best[0])):
                best = (score, rate, model, info)
        score, rate, model, info = best
        hp["learning_rate"] = rate
        info["learning_rate_trials"] = results
        yield self._progress(
            "validating",
            val_metric=score,
            message=f"keeping learning rate {rate:g} (validation {name} "
            f"{score if score is not None else float('nan'):.3f}) of {len(results)} tried",
        )
        return model, info

    def _placed(self, model: TaskModel) -> TaskModel:
        """The model on the training device (on the CPU: untouched, the same ops as ever)."""
        if self.device.is_cuda:
            model.to(self.device.device)
        return model

    def _build_model(self) -> TaskModel:
        hp, method = self.plan.hyperparameters, self.plan.method
        encoder = basemodels.load_encoder(self.base_model_dir)
        outputs = len(tag_names(self.labels)) if self.task == "extraction" else len(self.labels)
        model = TaskModel(encoder, outputs, token_level=self.task == "extraction", dropout=hp["dropout"])
        if method in WHOLE_MODEL_METHODS:
            if hp["freeze_embeddings"]:
                # The 11.7M-weight word-embedding matrix is half the model; freezing it makes AdamW 4x cheaper.
                encoder.get_input_embeddings().weight.requires_grad_(False)
            freeze_lowest_layers(encoder, hp.get("freeze_layers", 0))
        elif method == "lora":
            from peft import LoraConfig, inject_adapter_in_model  # seconds to import: LoRA runs only

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
        if weights is not None:
            weights = self.device.put(weights)
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
        predictor = TorchPredictor(
            task=self.task,
            labels=self.labels,
            method=self.plan.method,
            model=model,
            tokenizer=self.tokenizer,
            max_length=self.plan.hyperparameters["max_length"],
            device=self.device if self.device.is_cuda else None,
        )
        if self.device.is_cuda:
            predictor.batch_size = 256  # a GPU scores a big batch as fast as a small one
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


def _offset_steps(steps, trial: int, trials: int):
    """A trial's progress as part of all trials: steps counted across them, ETA for those left."""
    try:
        while True:
            try:
                event = next(steps)
            except StopIteration as done:
                return done.value
            total = event["total_steps"]
            if total:
                eta = event["eta_seconds"] or 0.0
                per_step = eta / max(total - event["step"], 1)
                event["eta_seconds"] = round(eta + per_step * total * (trials - trial - 1), 1)
                event["step"] += trial * total
                event["total_steps"] = total * trials
            yield event
    finally:
        steps.close()
