# SPDX-License-Identifier: Apache-2.0
"""JSON crossing (docs/python.md, "JSON crossing") gives the same results with and without orjson."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nemo_relay import _json

CASES: list[Any] = [
    {"b": 1, "a": [1, 2.5, "é", None, True], "c": {"z": {}, "y": []}},
    [1, (2, 3), {"k": (4,)}],
    "text",
    12,
    2**63 + 5,
    2**70,
    -0.0,
    1e300,
]


@pytest.mark.parametrize("value", CASES)
def test_encode_matches_the_stdlib_path(value: Any) -> None:
    assert _json.loads(_json.encode(value)) == _json.loads(_json._encode_std(value))


@pytest.mark.parametrize(
    ("value", "text", "where"),
    [
        ({"x": math.nan}, "NaN", "$.x"),
        ({"l": [1, math.inf]}, "Infinity", "$.l[1]"),
        ([{"a b": -math.inf}], "-Infinity", "$[0]['a b']"),
        ({"ok": None, "deep": {"t": (0.5, float("nan"))}}, "NaN", "$.deep.t[1]"),
        (math.nan, "NaN", "$"),
    ],
)
def test_nan_and_infinity_raise_naming_the_path(value: Any, text: str, where: str) -> None:
    """A deliberate difference from the reference, which writes null (bindings/python/README.md)."""
    message = f"^Failed to convert to JSON: {text} is not JSON \\(at {re.escape(where)}\\)$"
    for fn in (_json.encode, _json._encode_std, _json.convert, _json.dumps):
        with pytest.raises(ValueError, match=message):
            fn(value)


def test_finite_floats_and_nulls_still_pass_the_nan_check() -> None:
    value = {"a": None, "b": [0.0, -0.0, 1e308, -1e-308, None], "c": {"d": 2.5}}
    assert _json.loads(_json.encode(value)) == {"a": None, "b": [0.0, -0.0, 1e308, -1e-308, None], "c": {"d": 2.5}}


def test_refusals_raise_the_same_value_error() -> None:
    with pytest.raises(ValueError, match="^Failed to convert to JSON: unexpected type: 'int' object is not an"):
        _json.encode({1: "x"})
    with pytest.raises(ValueError, match="^Failed to convert to JSON: unsupported type set$"):
        _json.encode({"k": {1}})
    with pytest.raises(ValueError, match="^Failed to convert to JSON: unsupported type bytes$"):
        _json.encode([b"x"])

    class S(str):
        pass

    assert _json.encode({"k": S("v")}) == _json._encode_std({"k": "v"})


def test_loads_sorts_keys_at_every_level() -> None:
    v = _json.loads(b'{"b":{"d":1,"c":[{"z":1,"y":2}]},"a":1}')
    assert list(v) == ["a", "b"] and list(v["b"]) == ["c", "d"] and list(v["b"]["c"][0]) == ["y", "z"]
    already = _json.loads(b'{"a":1,"b":2}')
    assert list(already) == ["a", "b"]


def test_the_suite_core_passes_without_orjson() -> None:
    """Re-runs the behaviour and chain tests with the stdlib path (NEMO_RELAY_PURE_JSON=1)."""
    if not _json.HAVE_ORJSON:
        pytest.skip("already running without orjson")
    here = Path(__file__).parent
    env = {**os.environ, "NEMO_RELAY_PURE_JSON": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(here / "test_behaviour.py"),
            str(here / "test_chain_helpers.py"),
            str(here / "test_seeds.py"),
            str(here / "test_codec_vectors.py"),
            "-k",
            "not without_orjson",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_canonically_equivalent_keys_stay_apart_through_the_core() -> None:
    """Keys are bytes: U+00E9 and e + U+0301 are two keys end to end (issue 13, item 5); -0.0 keeps its sign."""
    import math

    from conftest import run_fresh

    from nemo_relay import scope, subscribers

    seen: list[Any] = []

    def body() -> None:
        subscribers.register("keys-bytes", seen.append)
        try:
            scope.event("keys", data={"\u00e9": 1, "e\u0301": 2, "z": -0.0})
            subscribers.flush()
        finally:
            subscribers.deregister("keys-bytes")

    run_fresh(body)
    (ev,) = [e for e in seen if e.name == "keys"]
    assert ev.data["\u00e9"] == 1 and ev.data["e\u0301"] == 2 and len(ev.data) == 3
    assert math.copysign(1.0, ev.data["z"]) == -1.0
