"""Banking77 benchmark: default training on the full train file, accuracy on held-out and official test.

Usage: .venv/bin/python bench/train_banking77.py [--method auto] [--epochs N] [--limit N] [--json out.json]
       [--before-steps 40] [--skip-full] [--before-full] [--hyperparameters '{"freeze_layers": 2}']
       [--device auto|cpu|cuda|cuda:N] [--base-model-dir DIR]

It imports the engine only (no Django), so it runs on a machine with torch and transformers alone:
``--base-model-dir`` (or ``SCALPEL_BENCH_BASE_MODEL_DIR``) points at the encoder when the bundled
package is not installed, and ``SCALPEL_DATASETS_DIR`` at the folder holding ``banking77/``.

With ``--before-steps N`` it first measures training speed side by side, in this process, on the same
training split: N optimisation steps of the configuration before the training-speed work (full
fine-tuning with a trainable word-embedding matrix, unbucketed shuffled batches, plain AdamW) and N
steps of the defaults (frozen embedding matrix, length-bucketed dynamic padding, fused AdamW). With
``--before-full`` the before configuration is also trained to the end and scored the same way, so the
defaults' accuracy is compared with it side by side.

The train file is split 80/10/10 (stratified, seeded); the model trains on the 80%, early-stops on
the 10% validation split, and is scored on the 10% test split and on the official test.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.engine import artifact  # noqa: E402
from inference.engine.basemodels import default_base_model_dir  # noqa: E402
from inference.engine.device import resolve_device  # noqa: E402
from inference.engine.evaluation import evaluate  # noqa: E402
from inference.engine.serving import loading  # noqa: E402
from inference.engine.serving.torch_predictor import predictor_from_trained  # noqa: E402
from inference.engine.training import TrainingSession  # noqa: E402
from inference.engine.types import Example  # noqa: E402


def datasets_dir() -> Path:
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


def read(path: Path) -> list[Example]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [Example(text=r["text"], label=r["category"]) for r in csv.DictReader(fh)]


def split(examples: list[Example], seed: int = 13) -> list[Example]:
    """80/10/10 stratified split: the engine's splitter when present, else a seeded per-label cut."""
    try:
        from inference.engine.splits import assign_splits

        return assign_splits(examples, seed=seed, task="classification")
    except ImportError:
        import random

        rng, by = random.Random(seed), {}
        for ex in examples:
            by.setdefault(ex.label, []).append(ex)
        out = []
        for items in by.values():
            rng.shuffle(items)
            n = max(round(len(items) * 0.1), 1)
            for i, ex in enumerate(items):
                out.append(
                    Example(
                        text=ex.text,
                        label=ex.label,
                        split="test" if i < n else "validation" if i < 2 * n else "train",
                    )
                )
        return out


def _unbucketed(lengths, batch_size, rng):
    """Shuffled batches with no regard to length (what bucketing replaced)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def _plain_adamw(groups, lr):
    import torch

    return torch.optim.AdamW(groups, lr=lr)


@contextlib.contextmanager
def configuration(*, before: bool):
    """The engine as it was before the training-speed work (``before``), or as it is."""
    from unittest import mock

    from inference.engine.training import gradient

    if not before:
        yield {}
        return
    with (
        mock.patch.object(gradient, "bucketed_batches", _unbucketed),
        mock.patch.object(gradient, "adamw", _plain_adamw),
    ):
        yield {"freeze_embeddings": False}


# Set by main() from --device and --base-model-dir.
SETTINGS = {"device": "auto", "base_model_dir": None}


def base_model_dir() -> str:
    return SETTINGS["base_model_dir"] or default_base_model_dir()


def speed(examples, labels, steps: int, *, before: bool) -> float:
    """Examples/s over ``steps`` optimisation steps (after a 3-step warm-up) of one configuration."""
    with configuration(before=before) as hp:
        session = TrainingSession(
            examples, task="classification", labels=labels, base_model_dir=base_model_dir(),
            method="full", hyperparameters={"epochs": 1, **hp}, device=SETTINGS["device"],
        )  # fmt: skip
        run = session.run()
        seen, t0 = 0, None
        for event in run:
            if event["phase"] != "training":
                continue
            if event["step"] == 3:
                t0 = time.monotonic()
            elif event["step"] > 3:
                seen += session.plan.hyperparameters["batch_size"]
            if event["step"] >= steps + 3:
                break
        run.close()
        return seen / (time.monotonic() - t0)


def train_and_score(
    examples, parts, labels, official, *, method: str, hp: dict | None, before: bool = False
) -> dict:
    """Train on the split's train part with ``hp``, score held-out and official test; the figures."""
    with configuration(before=before) as before_hp:
        start = time.monotonic()
        session = TrainingSession(
            examples,
            task="classification",
            labels=labels,
            base_model_dir=base_model_dir(),
            method="full" if before else method,
            hyperparameters={**(hp or {}), **before_hp} or None,
            device=SETTINGS["device"],
        )
        tag = "before" if before else "defaults"
        print(f"[{tag}] plan: {session.plan.method} - {session.plan.reason}")
        print(f"[{tag}] device: {session.plan.device_summary()}")
        print(f"[{tag}] hyperparameters: {json.dumps(session.plan.hyperparameters)}", flush=True)
        last = 0.0
        for event in session.run():
            now = time.monotonic() - start
            if now - last >= 15 or event["phase"] == "done" or (event["message"] or "").startswith("epoch"):
                last = now
                loss = event["loss"] if event["loss"] is not None else float("nan")
                print(
                    f"[{tag} {now:6.1f}s] {event['phase']:<10} epoch {event['epoch']}/{event['epochs']} step "
                    f"{event['step']}/{event['total_steps']} loss {loss:.4f} val {event['val_metric']} "
                    f"{event['examples_per_second']} ex/s eta {event['eta_seconds'] or 0:.0f}s",
                    flush=True,
                )
        train_wall = time.monotonic() - start
    trained = session.trained
    predictor = predictor_from_trained(trained)

    t0 = time.monotonic()
    held_out = evaluate(
        predictor,
        parts["test"],
        task="classification",
        labels=labels,
        train_examples=parts["train"],
        validation_examples=parts["validation"],
    )
    official_report = evaluate(
        predictor,
        [Example(text=e.text, label=e.label, split="test") for e in official],
        task="classification",
        labels=labels,
        train_examples=parts["train"],
    )
    eval_wall = time.monotonic() - t0

    with tempfile.TemporaryDirectory() as tmp:
        manifest = artifact.save(trained, tmp)
        size = sum((Path(tmp) / name).stat().st_size for name in manifest["files"])
        loaded = loading.load(tmp)
        probe = [e.text for e in parts["test"][:100]]
        same = [a["label"] for a in loaded.predict(probe)] == [a["label"] for a in predictor.predict(probe)]

    return {
        "method": trained.method,
        "epochs_run": trained.train_info["epochs_run"],
        "best_epoch": trained.train_info["best_epoch"],
        "device": trained.train_info["device"],
        "train_wall_seconds": round(train_wall, 1),
        # The optimisation steps alone (no loading, encoding or per-epoch validation).
        "training_seconds": trained.train_info.get("training_seconds"),
        "validation_seconds": trained.train_info.get("validation_seconds"),
        "training_examples_per_second": trained.train_info["examples_per_second"],
        "eval_wall_seconds": round(eval_wall, 1),
        "heldout_test_accuracy": held_out["accuracy"],
        "heldout_test_macro_f1": held_out["macro_f1"],
        "heldout_baseline_accuracy": held_out["baseline"]["accuracy"],
        "official_test_accuracy": official_report["accuracy"],
        "official_test_macro_f1": official_report["macro_f1"],
        "official_baseline_accuracy": official_report["baseline"]["accuracy"],
        "latency_ms_p50": held_out["latency_ms_p50"],
        "artifact_bytes": size,
        "reload_identical": same,
        "hyperparameters": trained.hyperparameters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="auto")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--limit", type=int, help="use only the first N rows of train.csv (smoke runs)")
    parser.add_argument(
        "--hyperparameters",
        type=json.loads,
        default={},
        help="overrides as JSON, e.g. '{\"freeze_layers\": 2}'",
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu, cuda or cuda:N")
    parser.add_argument(
        "--base-model-dir",
        default=os.environ.get("SCALPEL_BENCH_BASE_MODEL_DIR"),
        help="encoder directory (default: the bundled all-MiniLM-L6-v2 package)",
    )
    parser.add_argument("--before-steps", type=int, default=0, help="measure before/after speed over N steps")
    parser.add_argument("--skip-full", action="store_true", help="only the side-by-side speed measurement")
    parser.add_argument(
        "--before-full", action="store_true", help="also train the before-speed-work configuration to the end"
    )
    args = parser.parse_args()
    try:
        SETTINGS["device"] = resolve_device(args.device)
    except ValueError as exc:  # CUDA asked for and absent, or an unknown device name
        raise SystemExit(f"--device {args.device}: {exc}") from exc
    SETTINGS["base_model_dir"] = args.base_model_dir
    print(f"device: {SETTINGS['device'].describe()}", flush=True)

    folder = datasets_dir() / "banking77"
    rows = read(folder / "train.csv")
    if args.limit:
        rows = rows[: args.limit]
    examples = split(rows)
    parts = {s: [e for e in examples if e.split == s] for s in ("train", "validation", "test")}
    labels = sorted({e.label for e in examples})
    official = read(folder / "test.csv")
    print(
        f"banking77: {len(labels)} labels, train {len(parts['train'])}, validation {len(parts['validation'])}, "
        f"test {len(parts['test'])}, official test {len(official)}",
        flush=True,
    )

    comparison = None
    if args.before_steps:
        # Alternate before/after twice and keep the medians: other load on the machine hits both.
        runs = {"before": [], "after": []}
        for _ in range(2):
            for name in ("before", "after"):
                runs[name].append(speed(examples, labels, args.before_steps, before=name == "before"))
                print(f"  {name}: {runs[name][-1]:.1f} ex/s over {args.before_steps} steps", flush=True)
        before, after = sorted(runs["before"])[0:2], sorted(runs["after"])[0:2]
        comparison = {
            "steps": args.before_steps,
            "before_examples_per_second": round(sum(before) / 2, 1),
            "after_examples_per_second": round(sum(after) / 2, 1),
        }
        comparison["speedup"] = round(
            comparison["after_examples_per_second"] / comparison["before_examples_per_second"], 2
        )
        print(f"training speed, same data and process: before {comparison['before_examples_per_second']} ex/s "
              f"(trainable embeddings, unbucketed batches, plain AdamW), after {comparison['after_examples_per_second']} "
              f"ex/s (defaults): {comparison['speedup']}x", flush=True)  # fmt: skip
        if args.skip_full:
            if args.json:
                Path(args.json).write_text(json.dumps({"speed": comparison}, indent=2))
            return

    hp = {**args.hyperparameters, **({"epochs": args.epochs} if args.epochs else {})} or None
    figures = train_and_score(examples, parts, labels, official, method=args.method, hp=hp)
    figures["speed_before_after"] = comparison
    # The engine runs without Django (a GPU machine may have none): this says the run proved it.
    figures["django_imported"] = "django" in sys.modules
    if args.before_full:
        # The configuration before the speed work, trained to the end on the same split: its accuracy
        # is the bar the defaults must not fall below.
        figures["before"] = train_and_score(
            examples,
            parts,
            labels,
            official,
            method="full",
            before=True,
            hp={"epochs": args.epochs} if args.epochs else None,  # the overrides are the defaults' only
        )
    print("\n== banking77 results ==")
    rows = [("defaults", figures)] + ([("before", figures["before"])] if args.before_full else [])
    for key in figures:
        if key in ("hyperparameters", "speed_before_after", "before"):
            continue
        cells = [round(f[key], 4) if isinstance(f[key], float) else f[key] for _, f in rows]
        print(
            f"{key:>32}: " + "   ".join(f"{name} {cell}" for (name, _), cell in zip(rows, cells, strict=True))
        )
    if args.before_full:
        b, a = figures["before"], figures
        print(f"accuracy, defaults minus before: held-out {a['heldout_test_accuracy'] - b['heldout_test_accuracy']:+.4f}, "
              f"official {a['official_test_accuracy'] - b['official_test_accuracy']:+.4f}; training wall time "
              f"{a['train_wall_seconds'] / b['train_wall_seconds']:.2f}x the before configuration's")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
