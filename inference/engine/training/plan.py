"""Choosing a training method and resolving every hyperparameter before anything trains."""

from __future__ import annotations

import functools
import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..types import WHOLE_MODEL_METHODS, Example

METHODS = ("full", "lora", "head", "fewshot")
# auto picks "head" below these: with a handful of examples per label, fine-tuning 22M weights overfits.
HEAD_MAX_AVG_PER_LABEL = 8
HEAD_MAX_TRAIN_SIZE = 100
# auto does not pick "fewshot": on banking77 with 8 texts per label it scored 0.809 to 0.820 on the
# official test set against 0.826 for a linear head on the frozen base (docs/benchmarks.md), in 10 to
# 200 times the training time. It stays available by name.
# Sentence pairs per training example, at most: 20 (as SetFit's 20 iterations, halved), fewer on
# larger sets so that the contrastive pass stays near this many pairs (about 0.3 s per step of 16
# pairs on 2 cores: 770 steps for 616 texts, docs/benchmarks.md).
FEWSHOT_PAIRS_PER_EXAMPLE = 20
FEWSHOT_PAIR_BUDGET = 12800
MAX_LENGTH_CAP = 256
# Batch of the CPU defaults; epochs are counted in its steps on every device, so a GPU run trains
# the same number of epochs as a CPU run of the same data.
REFERENCE_BATCH_SIZE = 32
# On a GPU a batch of 32 leaves it mostly idle: 128 ran 3.2x more examples/s on an H200 (plain
# PyTorch, all-MiniLM-L6-v2, bf16). Learning rates grow by sqrt(128 / 32), the usual rule for
# Adam-type optimisers: banking77, 3 epochs, this plan in fp32 scored 0.929 on the official test
# against 0.931 for batch 32 (measured on the CPU).
GPU_BATCH_SIZE = 128


@dataclass
class TrainingPlan:
    """The resolved method, why it was chosen, and every hyperparameter the run will use."""

    method: str
    reason: str
    hyperparameters: dict = field(default_factory=dict)
    # Overrides left out because the method auto chose does not use them: name -> why.
    ignored: dict = field(default_factory=dict)
    # Where it trains: {"device": "cpu" | "cuda:N", "device_name", "precision": "fp32" | "bf16" | "fp16"}.
    device: dict = field(default_factory=lambda: {"device": "cpu", "device_name": "cpu", "precision": "fp32"})

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "reason": self.reason,
            "hyperparameters": dict(self.hyperparameters),
            "ignored": dict(self.ignored),
            "device": dict(self.device),
        }

    def device_summary(self) -> str:
        """'cuda:0 (NVIDIA H200), bf16 autocast; batch 128, learning rate 0.0002' for the job's log."""
        hp, dev = self.hyperparameters, self.device
        where = dev["device"] if dev["device"] == "cpu" else f"{dev['device']} ({dev['device_name']})"
        text = f"{where}, {dev['precision']}{' autocast' if dev['device'] != 'cpu' else ''}"
        if "batch_size" in hp and "learning_rate" in hp:
            text += f"; batch {hp['batch_size']}, learning rate {hp['learning_rate']:g}"
            if hp.get("head_learning_rate") and hp["head_learning_rate"] != hp["learning_rate"]:
                text += f" (head {hp['head_learning_rate']:g})"
        return text


def _num(lo: float, hi: float, integer: bool = False):
    def check(v):
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type or not (lo <= v <= hi):
            kind = "an integer" if integer else "a number"
            return f"must be {kind} between {lo:g} and {hi:g}"
        return None

    return check


def _bool(v):
    return None if isinstance(v, bool) else "must be true or false"


def _rates(v):
    if (
        isinstance(v, list)
        and len(v) <= 5
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 1e-7 <= x <= 1.0 for x in v)
    ):
        return None
    return "must be a list of at most 5 learning rates, each between 1e-07 and 1 (empty: no trials)"


def _modules(v):
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return None
    return "must be a non-empty list of module names"


# name -> validator (returns an error text or None). These are all the knobs a user may set.
HYPERPARAMETERS = {
    "learning_rate": _num(1e-7, 1.0),
    "head_learning_rate": _num(1e-7, 1.0),
    "epochs": _num(1, 500, integer=True),
    "batch_size": _num(1, 1024, integer=True),
    "max_length": _num(8, 512, integer=True),
    "weight_decay": _num(0.0, 1.0),
    "warmup_ratio": _num(0.0, 0.5),
    "class_weighting": _bool,
    "early_stopping_patience": _num(0, 500, integer=True),
    "seed": _num(0, 2**32 - 1, integer=True),
    "freeze_embeddings": _bool,
    "freeze_layers": _num(0, 64, integer=True),
    "dropout": _num(0.0, 0.9),
    "max_grad_norm": _num(0.0, 1000.0),
    "lora_r": _num(1, 256, integer=True),
    "lora_alpha": _num(1e-3, 4096.0),
    "lora_dropout": _num(0.0, 0.9),
    "lora_target_modules": _modules,
    "num_threads": _num(1, 512, integer=True),
    "pairs_per_example": _num(2, 200, integer=True),
    "learning_rate_trials": _rates,
}


# Knobs only some methods have; every other hyperparameter applies to all three. LoRA and head
# train no encoder weight, so there is nothing for the freezing knobs to freeze.
METHOD_ONLY = {
    "freeze_embeddings": WHOLE_MODEL_METHODS,
    "freeze_layers": WHOLE_MODEL_METHODS,
    "lora_r": ("lora",),
    "lora_alpha": ("lora",),
    "lora_dropout": ("lora",),
    "lora_target_modules": ("lora",),
    "pairs_per_example": ("fewshot",),
    "learning_rate_trials": ("full", "lora"),
}


def inapplicable(names: Iterable[str], method: str) -> dict[str, str]:
    """The names among ``names`` that ``method`` would not use, each with why."""
    return {
        name: f"applies to method {' or '.join(METHOD_ONLY[name])} only"
        for name in names
        if name in METHOD_ONLY and method not in METHOD_ONLY[name]
    }


class HyperparameterError(ValueError):
    """Every unknown or invalid hyperparameter of a request; ``str()`` is the one-line summary."""

    def __init__(self, *, unknown: list[str], invalid: dict[str, str], values: dict):
        self.unknown, self.invalid = list(unknown), dict(invalid)
        problems = []
        if self.unknown:
            problems.append(
                f"unknown hyperparameter(s): {', '.join(self.unknown)} "
                f"(known: {', '.join(sorted(HYPERPARAMETERS))})"
            )
        problems += [f"{name}={values.get(name)!r} {error}" for name, error in self.invalid.items()]
        super().__init__("; ".join(problems))

    def as_details(self) -> dict:
        """Per field: ``{"learning_rate": "must be a number between 1e-07 and 1", "unknown": ["lr"]}``."""
        return {**self.invalid, **({"unknown": self.unknown} if self.unknown else {})}


def validate_hyperparameters(overrides: dict | None, *, method: str | None = None) -> dict:
    """Return a copy of ``overrides``; HyperparameterError naming every unknown or invalid entry.

    With an explicit ``method`` (not ``auto``), a knob that method does not use is invalid too:
    recording it would claim an effect it never had."""
    overrides = dict(overrides or {})
    unknown = sorted(k for k in overrides if k not in HYPERPARAMETERS)
    invalid = {}
    for name, value in overrides.items():
        if name in HYPERPARAMETERS:
            error = HYPERPARAMETERS[name](value)
            if error:
                invalid[name] = error
    if method in METHODS:
        for name, why in inapplicable(overrides, method).items():
            invalid.setdefault(name, f"{why}, not {method}")
    if overrides.get("freeze_layers") and overrides.get("freeze_embeddings") is False:
        # Backward can only stop above the layers if nothing below them learns.
        invalid.setdefault("freeze_layers", "freezes the embeddings too: leave freeze_embeddings true")
    if unknown or invalid:
        raise HyperparameterError(unknown=unknown, invalid=invalid, values=overrides)
    return overrides


# Layer types peft can put a LoRA adapter on (what an encoder's attention and feed-forward use).
_LORA_LAYER_TYPES = ("Linear", "Embedding", "Conv1d", "Conv2d", "Conv1D")


@functools.lru_cache(maxsize=16)
def base_layer_names(base_model_dir: str) -> tuple[str, ...]:
    """Names of the base encoder's layers LoRA can adapt, from its config alone (no weights loaded)."""
    # Imported on use: this module loads before ``basemodels``, which sets the offline variables
    # that must be in place before transformers is first imported.
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(base_model_dir), local_files_only=True)
    with torch.device("meta"):  # builds the module tree without allocating a single weight
        model = AutoModel.from_config(config)
    return tuple(name for name, module in model.named_modules() if type(module).__name__ in _LORA_LAYER_TYPES)


@functools.lru_cache(maxsize=16)
def base_layer_count(base_model_dir: str) -> int:
    """How many transformer layers the base encoder has, from its config alone."""
    from transformers import AutoConfig  # on use, after ``basemodels`` (see base_layer_names)

    config = AutoConfig.from_pretrained(str(base_model_dir), local_files_only=True)
    return int(getattr(config, "num_hidden_layers", 0))


def freeze_layers_problem(count: int, layers: int) -> str | None:
    """Why ``freeze_layers`` cannot apply to an encoder of ``layers`` layers, or None."""
    if count and count >= layers:
        return f"would freeze all {layers} layers of the base model: use method head"
    return None


def lora_target_problem(targets: list[str], layer_names: tuple[str, ...]) -> str | None:
    """Why ``lora_target_modules`` would adapt nothing, or None. A target matches a layer named
    exactly so or ending in ``.<target>``, as peft matches it."""
    missing = [t for t in targets if not any(n == t or n.endswith(f".{t}") for n in layer_names)]
    if not missing:
        return None
    choices = sorted({n.rsplit(".", 1)[-1] for n in layer_names})
    return f"no layer of the base model is named {', '.join(missing)}; layers you can target: {', '.join(choices)}"


def cpu_count() -> int:
    """Cores this process may use (respects affinity masks, e.g. in containers)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


def max_length_for(token_lengths: list[int], limit: int = 512) -> int:
    """99th percentile of token lengths (specials included), rounded up to 8, within [16, 256]."""
    if not token_lengths:
        return 64
    ordered = sorted(token_lengths)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return int(min(max(16, math.ceil(p99 / 8) * 8), MAX_LENGTH_CAP, limit))


def units_per_label(train: list[Example], task: str, labels: list[str]) -> tuple[float, str]:
    """Average training examples (entity mentions for extraction) per label, and the unit's name."""
    counts: Counter = Counter()
    for ex in train:
        if task == "classification":
            counts[ex.label] += 1
        elif task == "multilabel":
            counts.update(ex.labels or [])
        else:
            counts.update(s.label for s in ex.entities or [])
    unit = "entity mentions" if task == "extraction" else "examples"
    return (sum(counts.values()) / max(len(labels), 1)), unit


def imbalance_ratio(train: list[Example], task: str, labels: list[str]) -> float:
    """Largest over smallest label count in train (inf when a label has none)."""
    counts: Counter = Counter(dict.fromkeys(labels, 0))
    for ex in train:
        if task == "classification":
            counts[ex.label] += 1
        elif task == "multilabel":
            counts.update(ex.labels or [])
    values = [counts[lab] for lab in labels]
    if not values or max(values) == 0:
        return 1.0
    return math.inf if min(values) == 0 else max(values) / min(values)


def choose_method(method: str, train: list[Example], task: str, labels: list[str]) -> tuple[str, str]:
    """Resolve ``auto`` (and explain any choice) in plain words."""
    avg, unit = units_per_label(train, task, labels)
    kind = "entity types" if task == "extraction" else "labels"
    facts = f"{len(labels)} {kind} with {avg:.0f} training {unit} each on average ({len(train)} training examples)"
    if method == "full":
        return "full", f"{facts}: full fine-tuning, as requested"
    if method == "lora":
        return "lora", f"{facts}: LoRA adapters on a frozen base, as requested"
    if method == "head":
        return "head", f"{facts}: a linear head on the frozen base model, as requested"
    if method == "fewshot":
        if task != "classification":
            raise ValueError(
                f"method fewshot trains classification only, not {task}: choose auto, head or full"
            )
        return "fewshot", f"{facts}: contrastive few-shot fine-tuning, then a fitted head, as requested"
    if method != "auto":
        raise ValueError(f"unknown method {method!r}: choose auto, {', '.join(METHODS)}")
    if avg < HEAD_MAX_AVG_PER_LABEL or len(train) < HEAD_MAX_TRAIN_SIZE:
        return "head", (
            f"{facts}: too few to fine-tune the whole model without overfitting, so a linear head is "
            f"trained on the frozen base model (auto picks this below {HEAD_MAX_AVG_PER_LABEL} per label "
            f"or {HEAD_MAX_TRAIN_SIZE} examples)"
        )
    return "full", f"{facts}: enough data for full fine-tuning (all layers except the word embeddings)"


# Extraction below this many sentences gets smaller batches, a higher learning rate and more epochs.
EXTRACTION_SMALL = 2000


def extraction_small_data(train_size: int) -> dict:
    """Full fine-tuning defaults for extraction on 100 to 2,000 sentences, scaled to the data.

    With batch 32 and rate 1e-4, a few hundred sentences make 10 optimiser steps an epoch: the model
    still tags everything O when early stopping gives up (entity F1 0.000 on a few hundred CoNLL
    sentences; rate 3e-4, batch 8 reached 0.571). So: batch 8 below 500 sentences (16 below 2,000),
    rate 3e-4 (2e-4), about 600 steps in all (at most 20 epochs), warm-up over the first tenth, and
    patience 3."""
    batch_size, learning_rate = (8, 3e-4) if train_size < 500 else (16, 2e-4)
    steps_per_epoch = max(math.ceil(train_size / batch_size), 1)
    return {
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "head_learning_rate": 1e-3,
        "epochs": min(max(math.ceil(600 / steps_per_epoch), 5), 20),
        "warmup_ratio": 0.1,
        "early_stopping_patience": 3,
        "freeze_embeddings": True,
    }


# auto tries learning rates on the validation split when fine-tuning at most this many examples:
# each trial is a whole training run (early stopping included), so trials cost up to 3x the time.
TRIALS_MAX_TRAIN_SIZE = 2000
TRIAL_FACTORS = (1.0, 0.5, 2.0)  # the default first: it is kept if the time budget ends the trials


def learning_rate_trials(hp: dict, *, train_size: int, validation_size: int) -> list[float]:
    """The rates auto tries (the default, half and double it), or [] when it should not try any."""
    if not validation_size or train_size > TRIALS_MAX_TRAIN_SIZE:
        return []
    return [float(f"{hp['learning_rate'] * f:.3g}") for f in TRIAL_FACTORS]


def default_hyperparameters(
    method: str,
    task: str,
    train_size: int,
    token_lengths: list[int],
    imbalance: float,
    model_limit: int = 512,
    gpu: bool = False,
) -> dict:
    """Defaults that work without tuning, derived from the method, task, data and (``gpu``) device."""
    batch_size = REFERENCE_BATCH_SIZE
    steps_per_epoch = max(math.ceil(train_size / batch_size), 1)
    hp = {
        "batch_size": batch_size,
        "max_length": max_length_for(token_lengths, model_limit),
        "weight_decay": 0.01,
        "warmup_ratio": 0.1,
        # Extraction is dominated by O tags: weighting them down trades far too much precision.
        "class_weighting": task != "extraction" and imbalance > 3.0,
        "early_stopping_patience": 2,
        "seed": 42,
        "dropout": 0.1,
        "max_grad_norm": 1.0,
        "num_threads": cpu_count(),
    }
    if method == "full" and task == "extraction" and train_size < EXTRACTION_SMALL:
        hp.update(extraction_small_data(train_size))
    elif method == "full":
        # ~600 optimiser steps is enough on this encoder; big data sets converge in 3 epochs.
        # The randomly initialised head learns 10x faster than the pre-trained body: +5 points of
        # accuracy after 3 epochs on 30 examples x 77 banking intents (measured, 84% vs 80%).
        hp.update(
            learning_rate=1e-4,
            head_learning_rate=1e-3,
            epochs=min(max(math.ceil(600 / steps_per_epoch), 3), 10),
            freeze_embeddings=True,
        )
    elif method == "fewshot":
        # SetFit's settings (body learning rate 2e-5, batch 16, one pass over the pairs); the word
        # embeddings stay frozen as for full (4x cheaper AdamW steps). No early stopping: one pass.
        hp.update(
            learning_rate=2e-5,
            batch_size=16,
            epochs=1,
            pairs_per_example=max(
                min(FEWSHOT_PAIRS_PER_EXAMPLE, FEWSHOT_PAIR_BUDGET // max(train_size, 1)) // 2 * 2, 4
            ),
            freeze_embeddings=True,
            early_stopping_patience=0,
            dropout=0.0,
        )
    elif method == "lora":
        hp.update(
            learning_rate=1e-3,
            head_learning_rate=1e-3,
            epochs=min(max(math.ceil(1000 / steps_per_epoch), 4), 20),
            lora_r=8,
            lora_alpha=16,
            lora_dropout=0.1,
            lora_target_modules=["query", "value"],
        )
    else:
        # A linear model on cached embeddings: epochs are cheap, so run many and stop early.
        # No warm-up and no clipping by default (both are honoured when set): a linear head
        # trained on fixed features has none of the instability they guard a deep model against.
        hp.update(
            learning_rate=1e-2,
            epochs=min(max(math.ceil(2000 / steps_per_epoch), 20), 300),
            warmup_ratio=0.0,
            weight_decay=0.0,
            dropout=0.0,
            max_grad_norm=0.0,
            early_stopping_patience=10,
        )
    if gpu and method in ("full", "lora"):
        scale_for_gpu(hp)
    return hp


def scale_for_gpu(hp: dict) -> None:
    """A GPU's batch and learning rates (sqrt scaling) in ``hp``; the epochs stay as they were."""
    factor = math.sqrt(GPU_BATCH_SIZE / hp["batch_size"])
    hp["batch_size"] = GPU_BATCH_SIZE
    for name in ("learning_rate", "head_learning_rate"):
        if hp.get(name):
            hp[name] = float(f"{hp[name] * factor:.6g}")
