"""A newcomer's first start: `manage.py dev` in an empty data folder seeds the demo workspace, its
own workers train both sample models, they reach production, and the `curl` it prints answers.

One `dev` (embedded PostgreSQL and Redis in a folder of this module, its own ports) serves both
tests: the call, and the demo model's evaluation page in a real Chromium.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import pytest

from .conftest import Process, free_port, processes_env, python, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# Both models train one after the other on the dev training worker; generous for 2 busy cores.
READY_WITHIN_SECONDS = 900


@pytest.fixture(scope="module")
def first_start(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-dev")
    port = free_port()
    env = processes_env(
        SCALPEL_DATA_DIR=folder / "data",
        SCALPEL_PG_PORT=free_port(),
        SCALPEL_REDIS_PORT=free_port(),
    )
    for name in ("DATABASE_URL", "REDIS_URL"):  # the embedded servers, as in a fresh clone
        env.pop(name, None)
    dev = Process("dev", [python(), "manage.py", "dev", "--port", str(port)], env=env, log_dir=folder)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", process=dev, timeout=240)
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while "/predict" not in dev.log():
            assert dev.alive(), dev.log()[-4000:]
            assert time.monotonic() < deadline, f"no call printed in time:\n{dev.log()[-4000:]}"
            time.sleep(2)
        time.sleep(1)  # the rest of the printed lines
        yield {"dev": dev, "port": port, "data": folder / "data"}
    finally:
        dev.stop(timeout=60)


def printed_curl(log: str) -> str:
    """The call as `dev` printed it, line continuations and all."""
    lines = [line for line in log.splitlines() if not line.startswith("[")]
    end = next(i for i, line in enumerate(lines) if "/predict" in line)
    start = max(i for i in range(end + 1) if lines[i].startswith("curl "))
    return "\n".join(lines[start : end + 1])


def test_the_printed_curl_gets_a_prediction_from_the_demo_model_in_production(first_start):
    log = first_start["dev"].log()
    assert "Seeded the demo workspace" in log
    assert "Demo: banking-intents v1 is in production." in log
    call = printed_curl(log)

    answer = subprocess.run(["bash", "-c", call], capture_output=True, text=True, timeout=60, check=True)

    body = json.loads(answer.stdout)
    assert body["model"] == "banking-intents" and body["version"] == 1
    assert body["predictions"][0]["label"] == "card_arrival"
    # The key is the demo's, kept with the demo credentials for later starts.
    key = re.search(r"Bearer (\S+)\"", call).group(1)
    creds = json.loads((first_start["data"] / "credentials.json").read_text())
    assert creds["demo"]["api_key"] == key
    # The extraction model follows it to production (its job may still be finishing).
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while "Demo: invoice-fields v1 is in production." not in first_start["dev"].log():
        assert time.monotonic() < deadline, first_start["dev"].log()[-4000:]
        time.sleep(2)
    extraction = shlex.split(call.replace("\\\n", " "))
    extraction[extraction.index("-d") + 1] = '{"inputs": ["4 x wireless mouse @ $25.00 = $100.00"]}'
    extraction[-1] = extraction[-1].replace("banking-intents", "invoice-fields")
    found = json.loads(subprocess.run(extraction, capture_output=True, text=True, check=True).stdout)
    assert {e["label"] for e in found["predictions"][0]["entities"]} >= {"QUANTITY", "ITEM"}


@pytest.mark.browser
def test_the_demo_models_evaluation_is_a_page_away(first_start, page):
    site = f"http://demo.localhost:{first_start['port']}"
    creds = json.loads((first_start["data"] / "credentials.json").read_text())["demo"]
    page.set_default_timeout(20_000)

    page.goto(site + "/")
    page.get_by_label("Email").fill(creds["email"])
    page.get_by_label("Password").fill(creds["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/")
    assert page.get_by_text("This is the demo workspace").is_visible()

    page.goto(site + "/models/banking-intents/v1/")

    assert page.locator(".tag-good", has_text="production").is_visible()
    assert page.locator(".verdict-number").is_visible()
    assert page.locator(".heatmap").is_visible()
    assert page.get_by_text("How well it does on each label").is_visible()
