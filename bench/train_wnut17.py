"""WNUT-17 benchmark: train on wnut17train.conll, validate on emerging.dev, test on emerging.test.annotated.

Usage: .venv/bin/python bench/train_wnut17.py [--method auto] [--epochs N] [--json out.json]
       [--train-sentences 300] [--before]
Entity-level F1 (seqeval, strict IOB2). Published: best shared-task system 41.86, bert-large 47.44.

``--train-sentences N`` trains on the first N training sentences only, ``--dev-sentences N``
validates on the first N dev sentences (the test file stays whole); ``--no-trials`` keeps auto from
trying other learning rates. ``--before`` sets the hyperparameters the defaults had before they were scaled to the data
size (batch 32, learning rate 1e-4, patience 2, epochs for ~600 steps within 3 to 10); the
early-stopping rule of this checkout still applies (an epoch that finds no entity uses no patience).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.engine.basemodels import default_base_model_dir  # noqa: E402
from inference.engine.evaluation import evaluate  # noqa: E402
from inference.engine.serving.torch_predictor import predictor_from_trained  # noqa: E402
from inference.engine.training import TrainingSession  # noqa: E402
from inference.engine.types import Example  # noqa: E402
from inference.engine.words import tags_to_spans, word_offsets  # noqa: E402

TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]


def datasets_dir() -> Path:
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def read_conll(path: Path, split: str) -> list[Example]:
    """token<TAB>tag lines, blank line between sentences."""
    out, tokens, tags = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in [*fh, "\n"]:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and parts[0].strip():
                tokens.append(parts[0])
                tags.append(parts[1])
            elif tokens:
                text = " ".join(tokens)
                out.append(
                    Example(
                        text=text,
                        tokens=tokens,
                        entities=tags_to_spans(word_offsets(text, tokens), tags),
                        split=split,
                    )
                )
                tokens, tags = [], []
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="auto")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--json")
    parser.add_argument("--train-sentences", type=int)
    parser.add_argument("--dev-sentences", type=int, help="validate on the first N dev sentences only")
    parser.add_argument("--no-trials", action="store_true", help="auto tries no other learning rates")
    parser.add_argument("--before", action="store_true", help="the defaults before they scaled with size")
    args = parser.parse_args()
    folder = datasets_dir() / "wnut17"
    train = read_conll(folder / "wnut17train.conll", "train")[: args.train_sentences]
    dev = read_conll(folder / "emerging.dev.conll", "validation")[: args.dev_sentences]
    test = read_conll(folder / "emerging.test.annotated", "test")
    print(f"wnut17: train {len(train)}, dev {len(dev)}, test {len(test)} sentences", flush=True)

    hyperparameters = {}
    if args.before:
        hyperparameters = {
            "batch_size": 32,
            "learning_rate": 1e-4,
            "head_learning_rate": 1e-3,
            "epochs": min(max(math.ceil(600 / math.ceil(len(train) / 32)), 3), 10),
            "warmup_ratio": 0.1,
            "early_stopping_patience": 2,
        }
    if args.epochs:
        hyperparameters["epochs"] = args.epochs
    if args.no_trials:
        hyperparameters["learning_rate_trials"] = []
    start = time.monotonic()
    session = TrainingSession(
        train + dev,
        task="extraction",
        labels=TYPES,
        base_model_dir=default_base_model_dir(),
        method=args.method,
        hyperparameters=hyperparameters or None,
    )
    print(f"plan: {session.plan.method} - {session.plan.reason}")
    print(f"hyperparameters: {json.dumps(session.plan.hyperparameters)}", flush=True)
    last = 0.0
    for event in session.run():
        now = time.monotonic() - start
        if now - last >= 15 or event["phase"] == "done" or (event["message"] or "").startswith("epoch"):
            last = now
            print(
                f"[{now:6.1f}s] {event['phase']:<10} epoch {event['epoch']}/{event['epochs']} step {event['step']}/"
                f"{event['total_steps']} loss {event['loss'] if event['loss'] is not None else float('nan'):.4f} val f1 {event['val_metric']} "
                f"{event['examples_per_second']} ex/s eta {event['eta_seconds'] or 0:.0f}s",
                flush=True,
            )
    train_wall = time.monotonic() - start
    predictor = predictor_from_trained(session.trained)
    report = evaluate(
        predictor, test, task="extraction", labels=TYPES, train_examples=train, validation_examples=dev
    )
    figures = {
        "train_sentences": len(train),
        "hyperparameters": "before" if args.before else "defaults",
        "method": session.trained.method,
        "epochs_run": session.trained.train_info["epochs_run"],
        "best_epoch": session.trained.train_info["best_epoch"],
        "train_wall_seconds": round(train_wall, 1),
        "training_examples_per_second": session.trained.train_info["examples_per_second"],
        "test_entity_f1": report["f1"],
        "test_precision": report["precision"],
        "test_recall": report["recall"],
        "baseline_f1": report["baseline"]["f1"],
        "latency_ms_p50": report["latency_ms_p50"],
        "per_type_f1": {k: round(v["f1"], 3) for k, v in report["per_type"].items()},
    }
    print("\n== wnut17 results ==")
    for key, value in figures.items():
        print(f"{key:>30}: {round(value, 4) if isinstance(value, float) else value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
