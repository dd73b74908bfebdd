"""The REST API journey on the full banking77 files, as a client that knows only the API contract.

Usage (against a running platform, e.g. ``manage.py dev``, and a key from ``apikey_create``):

    KEY=$(.venv/bin/python manage.py apikey_create demo --name journey --scopes predict data train read admin | tail -n 1)
    .venv/bin/python bench/api_journey.py --base-url http://localhost:8000 --key "$KEY" [--json out.json]

It uploads ``train.csv`` (label column ``category``), trains with defaults, polls the job, reads the
version's evaluation, promotes it, then sends every text of the official ``test.csv`` to the predict
endpoint (64 per request) and scores the answers. The figures: the version's reported accuracy on its
own held-out test split, the accuracy measured here over HTTP on the official test file, and the
wall time of each step. Only the standard library is used, like any outside client.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    env = os.environ.get("SCALPEL_DATASETS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


class Client:
    def __init__(self, base_url: str, key: str):
        self.api = base_url.rstrip("/") + "/api/v1/"
        self.auth = {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, payload: dict | None = None, *, body=None, headers=None) -> dict:
        headers = {**self.auth, **(headers or {})}
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.api + path, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - the operator's URL
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise SystemExit(
                f"{method} {path}: {exc.code} {exc.read()[:2000].decode(errors='replace')}"
            ) from exc

    def upload(self, path: str, file: Path, fields: dict) -> dict:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + file.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.call(
            "POST",
            path,
            body=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://localhost:8000")
    parser.add_argument("--key", required=True)
    parser.add_argument("--name", default=f"banking77-{int(time.time())}", help="dataset and model name")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--limit", type=int, help="smoke run: the first N rows of each file")
    args = parser.parse_args()
    client = Client(args.base_url, args.key)
    folder = datasets_dir() / "banking77"
    figures: dict = {"name": args.name}

    train_file = folder / "train.csv"
    if args.limit:
        train_file = Path(tempfile.mkdtemp()) / "train.csv"
        with open(folder / "train.csv", encoding="utf-8") as fh:
            train_file.write_text("".join(fh.readlines()[: args.limit + 1]), encoding="utf-8")
    t0 = time.monotonic()
    version = client.upload(
        f"datasets/{args.name}/versions", train_file, {"task": "classification", "label_column": "category"}
    )
    figures["upload_seconds"] = round(time.monotonic() - t0, 1)
    figures["dataset"] = {
        "rows": version["row_count"],
        "splits": version["split_counts"],
        "labels": len(version["labels"]),
    }
    print(f"uploaded v{version['number']}: {version['row_count']} rows {version['split_counts']} "
          f"in {figures['upload_seconds']} s", flush=True)  # fmt: skip

    t0 = time.monotonic()
    job = client.call("POST", "training-jobs", {"dataset": args.name, "model": args.name})
    print(f"training job {job['id']} {job['status']}", flush=True)
    last = ""
    while job["status"] in ("queued", "running"):
        time.sleep(5)
        job = client.call("GET", f"training-jobs/{job['id']}")
        p = job.get("progress") or {}
        line = (f"{job['status']} {p.get('phase')} epoch {p.get('epoch')}/{p.get('epochs')} step {p.get('step')}/"
                f"{p.get('total_steps')} loss {p.get('loss')} val {p.get('val_metric')} eta {p.get('eta_seconds')} s")  # fmt: skip
        if line != last:
            print(f"[{time.monotonic() - t0:6.0f}s] {line}", flush=True)
            last = line
    figures["training_job_seconds"] = round(time.monotonic() - t0, 1)
    if job["status"] != "succeeded":
        raise SystemExit(f"the job ended {job['status']}: {job['error']}")
    figures["method"] = job["resolved_method"]

    number = job["model_version"]
    detail = client.call("GET", f"models/{args.name}/versions/{number}")
    metrics = detail["metrics"]
    figures["runtime"] = detail["runtime"]
    figures["reported"] = {
        "held_out_accuracy": metrics["headline"]["value"],
        "held_out_macro_f1": metrics.get("macro_f1"),
        "baseline_accuracy": (metrics.get("baseline") or {}).get("headline", {}).get("value"),
        "latency_ms_p50": metrics.get("latency_ms_p50"),
    }
    client.call("POST", f"models/{args.name}/versions/{number}/promote", {"alias": "production"})
    print(
        f"v{number} promoted; reported held-out accuracy {figures['reported']['held_out_accuracy']:.4f}",
        flush=True,
    )

    with open(folder / "test.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if args.limit:
        known = set(detail["labels"])
        rows = [r for r in rows if r["category"] in known][: args.limit]
    t0 = time.monotonic()
    right = 0
    for k in range(0, len(rows), 64):
        batch = rows[k : k + 64]
        answer = client.call("POST", f"models/{args.name}/predict", {"inputs": [r["text"] for r in batch]})
        assert answer["version"] == number, answer["version"]
        right += sum(p["label"] == r["category"] for p, r in zip(answer["predictions"], batch, strict=True))
    figures["official_test"] = {
        "texts": len(rows),
        "accuracy_over_http": round(right / len(rows), 4),
        "seconds": round(time.monotonic() - t0, 1),
    }
    print("\n== API journey: banking77 ==")
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    sys.exit(main())
