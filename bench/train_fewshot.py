"""Few-shot benchmark: banking77 with a few examples per label, ``fewshot`` against ``head``, same run.

Usage: .venv/bin/python bench/train_fewshot.py [--per-label 8] [--seed 13] [--methods fewshot,head]
       [--serve] [--json out.json]

Draws ``--per-label`` training texts per intent from train.csv (seeded), trains each method on them
with its defaults (no validation split: a few-shot user has none to spare) and scores the trained
model on the official test.csv (3,080 texts). Training seconds are the whole ``TrainingSession.run()``
(base model load, encoding, training, head fit). With ``--serve`` each model is also saved, its
runtime chosen as a training job does (ONNX int8 when it agrees with fp32), loaded back through the
serving loader and scored again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.engine import artifact  # noqa: E402
from inference.engine.basemodels import default_base_model_dir  # noqa: E402
from inference.engine.serving import loading, runtime_choice  # noqa: E402
from inference.engine.serving.torch_predictor import predictor_from_trained  # noqa: E402
from inference.engine.training import TrainingSession  # noqa: E402
from inference.engine.types import Example  # noqa: E402


def datasets_dir() -> Path:
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def read(path: Path, split: str) -> list[Example]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [Example(text=r["text"], label=r["category"], split=split) for r in csv.DictReader(fh)]


def sample(examples: list[Example], per_label: int, seed: int) -> list[Example]:
    """``per_label`` examples of every label, drawn with a fixed seed (labels in sorted order)."""
    rng = random.Random(seed)
    by: dict[str, list[Example]] = {}
    for ex in examples:
        by.setdefault(ex.label, []).append(ex)
    return [ex for label in sorted(by) for ex in rng.sample(by[label], min(per_label, len(by[label])))]


def accuracy(predictor, test: list[Example]) -> float:
    hits = 0
    for k in range(0, len(test), 256):
        chunk = test[k : k + 256]
        answers = predictor.predict([ex.text for ex in chunk])
        hits += sum(a["label"] == ex.label for a, ex in zip(answers, chunk, strict=True))
    return hits / len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=8)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--methods", default="fewshot,head")
    parser.add_argument("--hyperparameters", default="{}", help="JSON, applied to every method")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--test-limit", type=int, help="score only the first N test texts (a quick check)")
    parser.add_argument("--json")
    args = parser.parse_args()
    folder = datasets_dir() / "banking77"
    train = sample(read(folder / "train.csv", "train"), args.per_label, args.seed)
    test = read(folder / "test.csv", "test")[: args.test_limit]
    labels = sorted({ex.label for ex in train})
    print(f"banking77: {len(train)} training texts ({args.per_label} per label), {len(test)} test texts")
    results: dict = {"per_label": args.per_label, "seed": args.seed, "train_size": len(train), "methods": {}}
    for method in args.methods.split(","):
        start = time.monotonic()
        session = TrainingSession(
            train,
            task="classification",
            labels=labels,
            base_model_dir=default_base_model_dir(),
            method=method,
            hyperparameters=json.loads(args.hyperparameters) or None,
        )
        print(f"\n[{method}] plan: {session.plan.reason}")
        print(f"[{method}] hyperparameters: {json.dumps(session.plan.hyperparameters)}", flush=True)
        last = 0.0
        for event in session.run():
            now = time.monotonic() - start
            if now - last >= 30 or event["message"]:
                last = now
                print(
                    f"[{method} {now:6.1f}s] {event['phase']} step {event['step']}/{event['total_steps']} "
                    f"{event['message'] or ''}",
                    flush=True,
                )
        seconds = time.monotonic() - start
        figures = {
            "training_seconds": round(seconds, 1),
            "test_accuracy": round(accuracy(predictor_from_trained(session.trained), test), 4),
        }
        if args.serve:
            with tempfile.TemporaryDirectory() as directory:
                texts = [ex.text for ex in test[::10]]
                _, info = runtime_choice.choose_runtime(session.trained, directory, texts)
                artifact.save(
                    session.trained,
                    directory,
                    extra_files=runtime_choice.runtime_files(info),
                    extra_manifest={"runtime": info},
                )
                loaded = loading.load(directory)
                figures["served_runtime"] = loaded.runtime
                figures["served_test_accuracy"] = round(accuracy(loaded, test), 4)
        results["methods"][method] = figures
        print(f"[{method}] {figures}", flush=True)
    print(f"\n== banking77, {args.per_label} per label, official test set ==")
    for method, figures in results["methods"].items():
        line = f"{method:>8}: accuracy {figures['test_accuracy']:.4f}, training {figures['training_seconds']:.0f} s"
        if "served_test_accuracy" in figures:
            line += f"; served by {figures['served_runtime']}: {figures['served_test_accuracy']:.4f}"
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
