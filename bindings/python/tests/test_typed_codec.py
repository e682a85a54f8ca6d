# SPDX-License-Identifier: Apache-2.0
"""typed.BestEffortAnyCodec: the reference's tagged formats, and a decode that never raises and never
runs code named by a payload."""

from __future__ import annotations

import base64
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from nemo_relay.typed import BestEffortAnyCodec

codec = BestEffortAnyCodec()


@dataclasses.dataclass
class Point:
    x: int
    label: str = "p"


class Opaque:
    def __init__(self) -> None:
        self.v = 1


def _touch(path: str) -> None:  # what a hostile pickle would make the decoder call
    Path(path).write_text("ran")


class Hostile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (_touch, (self.path,))


def test_dataclass_round_trip_and_format() -> None:
    enc = codec.to_json(Point(1))
    assert enc["__nv_dataclass__"].endswith("Point")
    assert enc["__nv_runtime_type__"].startswith(enc["__nv_dataclass__"] + ":")
    assert enc["data"] == {"x": 1, "label": "p"}
    assert codec.from_json(enc) == Point(1)


@pytest.mark.parametrize(
    "data", [{}, {"x": 1, "zz": 2}, [1, 2], None, "x"], ids=["missing", "extra", "list", "null", "string"]
)
def test_a_dataclass_that_cannot_be_rebuilt_comes_back_raw(data: Any) -> None:
    raw = {**codec.to_json(Point(1)), "data": data}
    assert codec.from_json(raw) == raw


def test_unknown_or_forged_runtime_types_come_back_raw() -> None:
    enc = codec.to_json(Point(1))
    for raw in ({**enc, "__nv_runtime_type__": "x:1"}, {"__nv_dataclass__": enc["__nv_dataclass__"], "data": {}}):
        assert codec.from_json(raw) == raw


def test_builtin_data_pickles_round_trip() -> None:
    for value in ({1, 2}, frozenset({3}), b"ab", (1, {2}), {"k": b"v"}):
        enc = codec.to_json(value)
        if isinstance(enc, dict) and "__nv_pickle__" in enc:
            assert enc["__nv_pickle__"].startswith("builtins.")
            assert codec.from_json(enc) == value


@pytest.mark.parametrize(
    "raw",
    [{"__nv_pickle__": "x", "data": "!!!"}, {"__nv_pickle__": "x", "data": base64.b64encode(b"garbage").decode()},
     {"__nv_pickle__": "x", "data": 5}, {"__nv_pickle__": "!!!"}],
    ids=["not-base64", "not-a-pickle", "not-a-string", "legacy-shape"],
)
def test_invalid_pickles_come_back_raw(raw: Any) -> None:
    assert codec.from_json(raw) == raw


def test_a_pickle_naming_a_callable_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    raw = {"__nv_pickle__": "x", "data": base64.b64encode(pickle.dumps(Hostile(str(marker)))).decode()}
    assert codec.from_json(raw) == raw
    assert not marker.exists()
    # A pickle of a class instance names its class: refused too, the payload comes back unchanged.
    enc = codec.to_json(Opaque())
    assert enc["__nv_pickle__"].endswith("Opaque")
    assert codec.from_json(enc) == enc


def test_unpicklable_values_fall_back_to_text() -> None:
    enc = codec.to_json(lambda v: v)
    assert enc["__nv_fallback_str__"] == "builtins.function"
    assert enc["data"].startswith("<function")
    assert codec.from_json(enc) == enc


def test_json_values_pass_through() -> None:
    assert codec.to_json((1, 2)) == [1, 2]
    assert codec.from_json({"a": 1}) == {"a": 1}
    assert codec.from_json([1]) == [1]
