"""Density benchmark: 1,000 tenant models on one web node, a skewed (Zipf) mix over 200 of them.

Usage: .venv/bin/python bench/density.py [--quick] [--rounds 3] [--json out.json]

What is measured, exactly:
  * 1,000 ``head`` model versions (a linear head on the shared frozen base, the method Scalpel
    picks for small datasets) in 5 tenant schemas, 200 models each. In each schema one model is
    trained by the platform's pipeline on a small banking77 slice (runtime chosen by the agreement
    check); the other 199 are synthetic: nearest-centroid heads over 4 random banking77 intents
    (8 texts), saved as artifacts and registered as versions with the seed model's runtime. Creating
    1,000 schemas would measure schema migrations, not serving; the serving path is the same.
  * One web process (gunicorn, 1 worker, 16 threads) answers ``POST /api/v1/models/<name>/predict``
    with each tenant's API key (auth, tenant switch, rate limit, metering on).
  * cold first request: the first request to each of the 200 hot models (artifact read, checksums,
    head load; the shared base encoder is already warm), p50/p99/max;
  * hot p50: one client, requests over the 200 models drawn from Zipf(s=1.1), against one client
    hammering a single model; rounds alternate, medians reported;
  * resident memory of the serving process after every one of the 1,000 models was loaded, and the
    process's own serving statistics (``/metrics/serving``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    api_key_for,
    banking_rows,
    banking_slice_csv,
    django_setup,
    free_port,
    median,
    pct,
    rss_bytes,
    tenant_ensure,
    train_in_process,
    wait_http,
)


def build_models(tenants: int, per_tenant: int) -> list[tuple[object, list[str]]]:
    """(tenant, model names) per schema; creates what is missing. Returns in a stable order."""
    import numpy as np
    import torch
    from django_tenants.utils import tenant_context
    from torch import nn

    from inference.engine import artifact
    from inference.engine.encoding import encode_texts, pad
    from inference.engine.serving.sessions import as_numpy
    from inference.engine.serving.shared import shared_base_tokenizer, shared_encoder
    from inference.engine.types import TrainedModel
    from inference.models import Model
    from inference.selectors.base_models import base_model_dir
    from inference.services.registry import model_version_create
    from tenants.selectors import base_model_get

    rows = banking_rows()
    by_label: dict[str, list[str]] = {}
    for r in rows:
        by_label.setdefault(r["category"], []).append(r["text"])
    intents = sorted(by_label)
    base = base_model_get(model_id="minilm-l6")
    base_dir = base_model_dir(base)
    _, tokenizer = shared_base_tokenizer(base_dir)
    encoder = None
    out = []
    for t in range(tenants):
        tenant = tenant_ensure(f"bench-dense-{t}")
        with tenant_context(tenant):
            names = list(Model.objects.order_by("name").values_list("name", flat=True))
            if "m000" not in names:
                seed = train_in_process(
                    tenant,
                    dataset="seed",
                    csv_bytes=banking_slice_csv(4, 12),
                    model_name="m000",
                    method="head",
                    hp={"max_length": 32},
                )
                print(f"  {tenant.slug}: seed model trained, runtime {seed.runtime}", flush=True)
            seed = Model.objects.get(name="m000").versions.order_by("number").first()
            job = seed.training_job
            missing = [f"m{j:03d}" for j in range(1, per_tenant) if f"m{j:03d}" not in names]
            if missing:
                if encoder is None:
                    encoder = shared_encoder(base_dir, "fp32")
                rng = random.Random(t)
                started = time.monotonic()
                for name in missing:
                    labels = rng.sample(intents, 4)
                    texts = [x for lab in labels for x in rng.sample(by_label[lab], 2)]
                    segs = encode_texts(tokenizer, texts, 32)
                    ids, mask = pad([s.input_ids for s in segs], tokenizer.pad_token_id or 0)
                    pooled = encoder.run(["pooled"], as_numpy(ids, mask))[0]
                    centroids = np.stack([pooled[2 * k : 2 * k + 2].mean(0) for k in range(4)])
                    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
                    head = nn.Linear(centroids.shape[1], 4)
                    with torch.no_grad():
                        head.weight.copy_(torch.from_numpy(centroids * 20.0))
                        head.bias.zero_()
                    holder = nn.Module()
                    holder.head = head
                    trained = TrainedModel(
                        task="classification", labels=labels, method="head", model=holder, tokenizer=tokenizer,
                        max_length=seed.artifact_manifest["max_length"], base_model_dir=base_dir,
                        base_model_id="minilm-l6", threshold=None, hyperparameters={}, train_info={"synthetic": True},
                    )  # fmt: skip
                    with tempfile.TemporaryDirectory() as tmp:
                        info = dict(seed.runtime_info, synthetic=True)
                        manifest = artifact.save(
                            trained, tmp, extra_manifest={"runtime": info, "model_name": name}
                        )
                        job.model_name = name
                        model_version_create(
                            job=job, local_dir=tmp, manifest=manifest,
                            evaluation={"headline": {"name": "accuracy", "value": None}},
                            runtime=seed.runtime, runtime_info=info,
                        )  # fmt: skip
                print(
                    f"  {tenant.slug}: {len(missing)} synthetic models in {time.monotonic() - started:.0f}s",
                    flush=True,
                )
            names = list(Model.objects.order_by("name").values_list("name", flat=True))[:per_tenant]
        out.append((tenant, names))
    return out


def one(conn_cache: dict, port: int, key: str, model: str, text: str) -> float:
    conn = conn_cache.get("c") or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn_cache["c"] = conn
    body = json.dumps({"inputs": [text]})
    start = time.perf_counter()
    conn.request(
        "POST", f"/api/v1/models/{model}/predict", body=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )  # fmt: skip
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - start) * 1000.0
    if response.status != 200:
        raise SystemExit(f"{model}: {response.status} {data[:300]!r}")
    return elapsed


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (k + 1) ** s for k in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: 2 schemas x 10 models, hot set 10")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--json")
    args = parser.parse_args()
    tenants, per_tenant, hot_n = (2, 10, 10) if args.quick else (5, 200, 200)
    rounds = args.rounds or (1 if args.quick else 3)
    n_req = 50 if args.quick else 400

    django_setup()
    from django.conf import settings

    t0 = time.monotonic()
    catalogue = build_models(tenants, per_tenant)
    print(f"models ready in {time.monotonic() - t0:.0f}s", flush=True)
    keys = {tenant.pk: api_key_for(tenant) for tenant, _ in catalogue}
    every = [(keys[tenant.pk], name) for tenant, names in catalogue for name in names]
    total_models = len(every)
    # The hot set: the same number of models from each schema.
    per = hot_n // tenants
    hot = [(keys[tenant.pk], name) for tenant, names in catalogue for name in names[:per]]
    rng = random.Random(7)
    rng.shuffle(hot)
    texts = [r["text"] for r in banking_rows("test.csv")]

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    work = Path(settings.DATA_DIR) / "bench-density"
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "server.log", "ab")  # noqa: SIM115 - closed at exit
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--pythonpath", f"{ROOT / 'platform'},{ROOT}",
         "-w", "1", "-k", "gthread", "--threads", "16", "-b", f"127.0.0.1:{port}", "--keep-alive", "30",
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    conn: dict = {}
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=server)
        rss_empty = rss_bytes(server.pid)
        single_key, single_model = every[0]
        for text in texts[:5]:  # loads the shared base encoder and the single model
            one(conn, port, single_key, single_model, text)
        cold = [
            one(conn, port, k, m, texts[i % len(texts)])
            for i, (k, m) in enumerate(hot)
            if m != single_model or k != single_key
        ]
        weights = zipf_weights(len(hot))
        single, mixed = [], []
        for _ in range(rounds):
            single.append(
                median(
                    [one(conn, port, single_key, single_model, texts[i % len(texts)]) for i in range(n_req)]
                )
            )
            picks = rng.choices(range(len(hot)), weights=weights, k=n_req)
            mixed.append(
                median([one(conn, port, *hot[p], texts[i % len(texts)]) for i, p in enumerate(picks)])
            )
            print(
                f"  single model p50 {single[-1]:.2f} ms, Zipf over {len(hot)} p50 {mixed[-1]:.2f} ms",
                flush=True,
            )
        rss_hot = rss_bytes(server.pid)
        rest = [x for x in every if x not in set(hot) and x != (single_key, single_model)]
        cold_rest = [one(conn, port, k, m, texts[i % len(texts)]) for i, (k, m) in enumerate(rest)]
        slowest = sorted(enumerate(cold + cold_rest), key=lambda x: -x[1])[:5]
        print(
            "  slowest cold requests (order loaded, ms): " + ", ".join(f"#{i} {ms:.0f}" for i, ms in slowest),
            flush=True,
        )
        rss_all = rss_bytes(server.pid)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/metrics/serving")
        stats = json.loads(c.getresponse().read())
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    cache = stats["runtime_cache"]
    fig = {
        "schemas": tenants,
        "models": total_models,
        "hot_set": len(hot),
        "rounds": rounds,
        "requests_per_round": n_req,
        "single_model_p50_ms": round(median(single), 2),
        "zipf_hot_p50_ms": round(median(mixed), 2),
        "cold_first_request_ms": {"p50": round(median(cold), 1), "p99": round(pct(cold, 99), 1), "max": round(max(cold), 1)},
        "cold_first_request_all_ms": {"p50": round(median(cold + cold_rest), 1), "p99": round(pct(cold + cold_rest, 99), 1),
                                      "max": round(max(cold + cold_rest), 1)},
        "rss_mb": {"started": round(rss_empty / 2**20), "hot_set_loaded": round(rss_hot / 2**20),
                   "all_loaded": round(rss_all / 2**20)},
        "server_stats": {k: cache.get(k) for k in ("loaded", "bytes", "evictions", "hits", "misses", "shared_encoders",
                                                     "shared_encoder_bytes", "by_method_runtime", "int8_threads", "rss_bytes")},
    }  # fmt: skip
    fig["ratios"] = {
        "zipf_hot_p50_over_single_p50": round(fig["zipf_hot_p50_ms"] / fig["single_model_p50_ms"], 3)
    }
    fig["targets"] = {
        "hot_p50_at_most_1.3x_single": fig["ratios"]["zipf_hot_p50_over_single_p50"] <= 1.3,
        "cold_first_request_at_most_250ms": fig["cold_first_request_all_ms"]["max"] <= 250,
        "serving_memory_at_most_6GiB": rss_all <= 6 * 2**30,
    }
    print("\n== density benchmark ==")
    print(json.dumps(fig, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2))


if __name__ == "__main__":
    main()
