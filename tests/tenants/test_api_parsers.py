"""JSON bodies nested deeper than the limit are a 400 validation_failed on every JSON endpoint,
checked before parsing (no RecursionError, no 500), however deep they go."""

from __future__ import annotations

import json
import time

import pytest

from core.json_limits import MAX_JSON_DEPTH, json_too_deep
from tests.factories import raw_key, tenant_objects


def _nested(depth: int) -> str:
    """JSON text nesting objects and arrays ``depth`` deep (built as text: json.dumps would recurse)."""
    opens = ['{"k": ' if level % 2 else "[" for level in range(depth)]
    closes = ["}" if level % 2 else "]" for level in reversed(range(depth))]
    return "".join(opens) + '"x"' + "".join(closes)


def _post(client, key: str, path: str, body: str):
    return client.post(
        f"/api/v1/{path}", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.mark.parametrize(
    "path, body",
    [
        ("feedback", '{"model": "m", "input": "hi", "correct_label": "a", "predicted": DEEP}'),
        ("training-jobs", '{"dataset": "d", "model": "m", "hyperparameters": {"epochs": DEEP}}'),
        ("models/m/predict", '{"inputs": DEEP}'),
        ("models/m/versions/1/promote", "DEEP"),
    ],
)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 1000])
def test_a_body_nested_too_deep_is_refused_with_400_validation_failed(client, tenant_a, path, body, depth):
    response = _post(client, raw_key(tenant_a), path, body.replace("DEEP", _nested(depth)))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in error["message"]
    assert error["details"] == {"max_depth": MAX_JSON_DEPTH}


def test_a_hundred_thousand_brackets_are_refused_at_once(client, tenant_a):
    started = time.monotonic()
    response = _post(client, raw_key(tenant_a), "feedback", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"
    assert time.monotonic() - started < 2


def test_a_body_at_the_limit_and_brackets_inside_strings_pass_the_parser(client, tenant_a):
    objects = tenant_objects(tenant_a, "jp")
    body = {"model": objects.model, "input": "[[[[{{{{" * 50, "correct_label": "pos",
            "predicted": "PREDICTED"}  # fmt: skip
    response = _post(
        client,
        raw_key(tenant_a),
        "feedback",
        json.dumps(body).replace('"PREDICTED"', _nested(MAX_JSON_DEPTH - 1)),
    )
    assert response.status_code == 201, response.content


def test_the_depth_scan_counts_only_brackets_outside_strings():
    assert not json_too_deep('{"a": "' + "[" * 100 + '"}', limit=3)
    assert not json_too_deep('{"a": "\\"[[[[[["}', limit=3)
    assert json_too_deep("[[[[1]]]]", limit=3)
    assert not json_too_deep("[[[1]]]", limit=3)
