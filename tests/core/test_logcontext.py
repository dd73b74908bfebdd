"""The request id: a caller's well-formed id is kept, anything else is replaced."""

from __future__ import annotations

import pytest

from core.logcontext import request_id_accept


@pytest.mark.parametrize(
    "value",
    [
        "abc-123",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "Root=1-67891233-abcdef012345678912345678",
        "a" * 128,
    ],
)
def test_a_well_formed_id_is_kept(value):
    assert request_id_accept(value) == value


@pytest.mark.parametrize(
    "value",
    [None, "", "a" * 129, "has space", 'quote"d', "new\nline", "-leading-dash", "ü-unicode", "semi;colon"],
)
def test_anything_else_gets_a_fresh_id(value):
    fresh = request_id_accept(value)
    assert fresh != value and len(fresh) == 32 and request_id_accept(fresh) == fresh
