"""Serving benchmark: Scalpel's predict endpoint against a plain transformers server, side by side.

Usage: .venv/bin/python bench/serve.py [--quick] [--rounds 3] [--json out.json]

In one process tree it starts
  * Scalpel: ``gunicorn config.wsgi`` (1 process, 16 threads) on the benchmark database, serving a
    model trained here through the platform's own pipeline (banking77 slice, ``full`` method), called
    with a real API key (authentication, tenant resolution, rate limiting and metering on);
  * a reference server: the same fine-tuned weights saved as a Hugging Face model directory, loaded
    into ``transformers.pipeline("text-classification")`` behind ``http.server`` (one request at a time);
and loads both with 1 and 16 concurrent clients sending one banking77 test text per request,
alternating the servers round by round. Figures are medians over rounds. It also measures the
in-process torch fp32 forward of the same model (one text), the yardstick of the latency target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
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

TENANT = "bench-serve"
MODEL = "intents"


# -- the reference: transformers pipeline behind http.server -----------------------------------------


def reference_model_class():
    import torch
    from torch import nn
    from transformers import BertModel, BertPreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolClassifier(BertPreTrainedModel):
        """Scalpel's task model as a transformers model: BERT encoder, mean pooling, linear head."""

        def __init__(self, config):
            super().__init__(config)
            self.bert = BertModel(config, add_pooling_layer=False)
            self.classifier = nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return SequenceClassifierOutput(logits=self.classifier(pooled))

    _ = torch
    return MeanPoolClassifier


def export_reference(artifact_dir: str, out_dir: Path) -> None:
    """The version's fine-tuned weights as a Hugging Face model directory."""
    from transformers import BertConfig

    from inference.engine.serving import loading

    predictor = loading.load(artifact_dir, runtime="torch")
    encoder = predictor.model.encoder
    config = BertConfig(**encoder.config.to_dict())
    config.num_labels = len(predictor.labels)
    config.id2label = dict(enumerate(predictor.labels))
    config.label2id = {lab: i for i, lab in enumerate(predictor.labels)}
    model = reference_model_class()(config)
    missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
    assert not missing and all(k.startswith("pooler.") for k in unexpected), (missing, unexpected)
    model.classifier.load_state_dict(predictor.model.head.state_dict())
    model.save_pretrained(str(out_dir))
    predictor.tokenizer.save_pretrained(str(out_dir))


def reference_server(model_dir: str, port: int) -> None:
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from transformers import AutoTokenizer, pipeline

    model = reference_model_class().from_pretrained(model_dir).eval()
    classify = pipeline(
        "text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(model_dir)
    )

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: the connection closes after each answer, so a one-at-a-time server still takes
        # its clients' requests in turn (a kept-alive connection would hold it for one client).
        protocol_version = "HTTP/1.0"

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._send(200, {"status": "ok"})

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answers = classify(body["inputs"], top_k=None)
            self._send(
                200, {"predictions": [{"label": a[0]["label"], "score": a[0]["score"]} for a in answers]}
            )

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    class Server(HTTPServer):
        request_queue_size = 128  # 16 clients connect at once; the default backlog of 5 drops SYNs

    Server(("127.0.0.1", port), Handler).serve_forever()


# -- load generation ---------------------------------------------------------------------------------


def load(port: int, path: str, headers: dict, texts: list[str], clients: int, total: int) -> dict:
    """``total`` requests of one text each from ``clients`` threads with keep-alive connections."""
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    labels: dict[int, str] = {}
    errors: list[str] = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps({"inputs": [texts[i % len(texts)]]})
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            elapsed = time.perf_counter() - start
            if response.status != 200:
                errors.append(f"{response.status} {data[:200]!r}")
                continue
            with lock:
                latencies.append(elapsed * 1000.0)
                labels[i] = json.loads(data)["predictions"][0]["label"]
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "p50_ms": median(latencies),
        "p99_ms": pct(latencies, 99),
        "texts_per_s": len(latencies) / wall,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "labels": labels,
    }


# -- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: tiny model, few requests, one round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads per Scalpel web process")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn web processes (operations.md: one per core)"
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--retrain", action="store_true", help="train a new version even if one exists")
    args = parser.parse_args()
    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    single_n, multi_n = (20, 64) if quick else (300, 1600)

    django_setup()
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from inference.models import Model
    from inference.services.registry import local_artifact_dir

    tenant = tenant_ensure(TENANT)
    model_name = f"{MODEL}-quick" if quick else MODEL
    with tenant_context(tenant):
        existing = Model.objects.filter(name=model_name).first()
        version = existing.versions.order_by("-number").first() if existing else None
    if version is None or args.retrain:
        t0 = time.monotonic()
        labels, per_label, hp = (5, 16, {"epochs": 1, "max_length": 32}) if quick else (20, 40, {"epochs": 3})
        version = train_in_process(
            tenant,
            dataset=f"{model_name}-data",
            csv_bytes=banking_slice_csv(labels, per_label),
            model_name=model_name,
            method="full",
            hp=hp,
        )
        print(f"trained {model_name} v{version.number} in {time.monotonic() - t0:.0f}s", flush=True)
    with tenant_context(tenant):
        artifact_dir = local_artifact_dir(version)
    print(f"model: {model_name} v{version.number}, method {version.method}, runtime {version.runtime} "
          f"({version.runtime_info.get('reason', '')})", flush=True)  # fmt: skip
    raw_key = api_key_for(tenant)

    texts = [r["text"] for r in banking_rows("test.csv")]
    work = Path(settings.DATA_DIR) / "bench-serve"
    ref_dir = work / f"reference-{version.pk}-{version.artifact_checksum[:8]}"
    if not (ref_dir / "config.json").is_file():
        ref_dir.mkdir(parents=True, exist_ok=True)
        export_reference(artifact_dir, ref_dir)

    # In-process yardsticks: torch fp32 forward of the same model, and the served runtime, one text.
    from inference.engine.serving import loading

    def one_text_ms(predictor, sample: list[str]) -> float:
        samples = []
        for text in sample:
            t0 = time.perf_counter()
            predictor.predict([text])
            samples.append((time.perf_counter() - t0) * 1000.0)
        return median(samples)

    yard, loaded = {}, {}
    for name in ("torch", version.runtime):
        p = loading.load(artifact_dir, runtime=name, onnx_cache_dir=str(settings.SCALPEL_ONNX_CACHE_DIR))
        p.predict(texts[:2])
        yard[name] = one_text_ms(p, texts[: 30 if quick else 200])
        loaded[name] = p
    # This machine's speed drifts from minute to minute: the torch yardstick is measured again in
    # every round, between the servers' loads (they are idle then), and its median is the one used.
    torch_rounds = [yard["torch"]]

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    scalpel_port, ref_port = free_port(), free_port()
    log = open(work / "servers.log", "ab")  # noqa: SIM115 - closed at exit
    scalpel = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--pythonpath", f"{ROOT / 'platform'},{ROOT}",
         "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads), "-b", f"127.0.0.1:{scalpel_port}",
         "--keep-alive", "30", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    reference = subprocess.Popen(
        [sys.executable, __file__, "--reference-server", str(ref_dir), str(ref_port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{scalpel_port}/healthz", proc=scalpel)
        wait_http(f"http://127.0.0.1:{ref_port}/", proc=reference)
        targets = {
            "scalpel": (
                scalpel_port,
                f"/api/v1/models/{model_name}/predict",
                {"Authorization": f"Bearer {raw_key}"},
            ),
            "reference": (ref_port, "/", {}),
        }
        for name, (port, path, headers) in targets.items():  # warm-up: loads the model, fills caches
            warm = load(port, path, headers, texts, 2, 20)
            if warm["errors"]:
                raise SystemExit(f"{name} refused the warm-up: {warm['first_error']}")
        results: dict = {name: {1: [], 16: []} for name in targets}
        for r in range(rounds):
            torch_rounds.append(one_text_ms(loaded["torch"], texts[: 30 if quick else 100]))
            print(f"round {r + 1} in-process torch fp32, one text: {torch_rounds[-1]:.2f} ms", flush=True)
            for clients, n in ((1, single_n), (16, multi_n)):
                for name, (port, path, headers) in targets.items():
                    out = load(port, path, headers, texts, clients, n)
                    results[name][clients].append(out)
                    print(f"round {r + 1} {name:>9} {clients:>2} clients: p50 {out['p50_ms']:.2f} ms  p99 "
                          f"{out['p99_ms']:.2f} ms  {out['texts_per_s']:.0f} texts/s  errors {out['errors']}"
                          + (f" (first: {out['first_error']})" if out["errors"] else ""), flush=True)  # fmt: skip
        rss = {"scalpel": rss_bytes(scalpel.pid), "reference": rss_bytes(reference.pid)}
    finally:
        for proc in (scalpel, reference):
            proc.terminate()
        for proc in (scalpel, reference):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()

    def agg(name, clients, key):
        return median([o[key] for o in results[name][clients]])

    # Both servers answer the same texts with the same model: their labels agree.
    same = total = 0
    for clients in (1, 16):
        for a, b in zip(results["scalpel"][clients], results["reference"][clients], strict=True):
            for i, lab in a["labels"].items():
                if i in b["labels"]:
                    total += 1
                    same += lab == b["labels"][i]
    fig = {
        "model": {"name": model_name, "version": version.number, "method": version.method,
                  "runtime": version.runtime, "runtime_info": version.runtime_info},
        "rounds": rounds,
        "requests": {"1_client": single_n, "16_clients": multi_n},
        "in_process_one_text_ms": {"torch_fp32": yard["torch"], version.runtime: yard[version.runtime],
                                   "torch_fp32_each_round": [round(x, 2) for x in torch_rounds]},
        "errors": sum(o["errors"] for s in results.values() for runs in s.values() for o in runs),
        "label_agreement_scalpel_vs_reference": same / total if total else None,
        "rss_mb": {k: round(v / 2**20) for k, v in rss.items()},
    }  # fmt: skip
    for name in targets:
        for clients in (1, 16):
            fig[f"{name}_{clients}"] = {
                k: round(agg(name, clients, k), 2) for k in ("p50_ms", "p99_ms", "texts_per_s")
            }
    s1, s16, r16 = fig["scalpel_1"], fig["scalpel_16"], fig["reference_16"]
    fig["ratios"] = {
        "scalpel_1_p50_over_torch_forward": round(s1["p50_ms"] / median(torch_rounds), 3),
        "scalpel_16_texts_per_s_over_reference": round(s16["texts_per_s"] / r16["texts_per_s"], 2),
        "scalpel_16_p99_over_p50": round(s16["p99_ms"] / s16["p50_ms"], 2),
        "scalpel_1_p50_over_reference_1_p50": round(s1["p50_ms"] / fig["reference_1"]["p50_ms"], 3),
    }
    fig["targets"] = {
        "one_text_p50_at_most_0.6x_torch_forward": fig["ratios"]["scalpel_1_p50_over_torch_forward"] <= 0.6,
        "16_clients_at_least_3x_reference_texts_per_s": fig["ratios"]["scalpel_16_texts_per_s_over_reference"]
        >= 3,
        "16_clients_p99_at_most_4x_p50": fig["ratios"]["scalpel_16_p99_over_p50"] <= 4,
    }
    print("\n== serving benchmark ==")
    print(json.dumps(fig, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2))
    if fig["errors"]:
        raise SystemExit(f"{fig['errors']} requests failed")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--reference-server":
        reference_server(sys.argv[2], int(sys.argv[3]))
    else:
        main()
