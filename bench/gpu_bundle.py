"""Build ``.gpu/``: what the banking77 benchmark needs on a GPU machine with no Django and no network.

Usage: .venv/bin/python bench/gpu_bundle.py [--out .gpu]

The folder holds an fp16 copy of all-MiniLM-L6-v2 (44 MB instead of 87 MB; the engine casts it back
to fp32 on load), banking77's train.csv and test.csv, and ``run.sh``, which trains with
``--device cuda`` and prints the figures as JSON. It stays under 60 MiB, so it can be carried to a
machine that takes at most 64 MiB of files. Run it on the GPU machine from the repository root:
``bash .gpu/run.sh`` (``DEVICE=cpu`` and ``PYTHON=...`` for a dry run elsewhere; extra arguments go
to the benchmark, e.g. ``--limit 300 --epochs 1``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)
LIMIT_BYTES = 60 * 1024 * 1024

RUN_SH = r"""#!/usr/bin/env bash
# banking77, the default plan, on this machine's GPU: engine only (no Django), fp16 weights cast to fp32.
# Written by bench/gpu_bundle.py. Prints the benchmark's log, then one JSON line of figures.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
py="${PYTHON:-python3}"
export PYTHONPATH="$root:$here"
export SCALPEL_DATASETS_DIR="$here/datasets"
out="${OUT:-$here/out}"
mkdir -p "$out"
"$py" bench/train_banking77.py --device "${DEVICE:-cuda}" --base-model-dir "$here/minilm-fp16" \
    --json "$out/banking77_gpu.json" "$@" 2>&1 | tee "$out/banking77_gpu.log"
"$py" - "$out/banking77_gpu.json" <<'PY'
import json
import sys

f = json.load(open(sys.argv[1]))
hp = f["hyperparameters"]
print(json.dumps({
    "device": f["device"]["device"],
    "gpu_name": f["device"]["device_name"],
    "precision": f["device"]["precision"],
    "epochs_run": f["epochs_run"],
    "batch_size": hp["batch_size"],
    "learning_rate": hp["learning_rate"],
    "head_learning_rate": hp.get("head_learning_rate"),
    "training_seconds": f["training_seconds"],
    "validation_seconds": f["validation_seconds"],
    "train_wall_seconds": f["train_wall_seconds"],
    "training_examples_per_second": f["training_examples_per_second"],
    "official_test_accuracy": f["official_test_accuracy"],
    "heldout_test_accuracy": f["heldout_test_accuracy"],
    "reload_identical": f["reload_identical"],
    "django_imported": f["django_imported"],
}))
PY
"""


def build(out: Path) -> int:
    import torch
    from safetensors.torch import load_file, save_file

    from inference.engine.basemodels import WEIGHTS_FILE, default_base_model_dir

    source = Path(default_base_model_dir())
    datasets = (
        Path(os.environ.get("SCALPEL_DATASETS_DIR") or ROOT.parent / "shared" / "datasets") / "banking77"
    )
    model_dir, data_dir = out / "minilm-fp16", out / "datasets" / "banking77"
    model_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copyfile(source / name, model_dir / name)
    weights = load_file(str(source / WEIGHTS_FILE))
    half = {k: (v.to(torch.float16) if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
    save_file(half, str(model_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    for name in ("train.csv", "test.csv"):
        shutil.copyfile(datasets / name, data_dir / name)
    for path in (*model_dir.iterdir(), *data_dir.iterdir()):
        path.chmod(0o644)
    run = out / "run.sh"
    run.write_text(RUN_SH)
    run.chmod(0o755)
    return sum(
        p.stat().st_size for p in out.rglob("*") if p.is_file() and "out" not in p.relative_to(out).parts
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / ".gpu"))
    args = parser.parse_args()
    size = build(Path(args.out))
    print(f"{args.out}: {size / 1024 / 1024:.1f} MiB")
    if size > LIMIT_BYTES:
        raise SystemExit(f"{args.out} is {size / 1024 / 1024:.1f} MiB, over the 60 MiB budget")


if __name__ == "__main__":
    main()
