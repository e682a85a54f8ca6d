# SPDX-License-Identifier: Apache-2.0
"""JSON crossing into and out of the runtime (python-api.md 1.3)."""

from __future__ import annotations

import json
import math
from typing import Any

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _sorted_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    pairs.sort(key=_first)
    return dict(pairs)


def _first(p: tuple[str, Any]) -> str:
    return p[0]


_decoder = json.JSONDecoder(object_pairs_hook=_sorted_pairs)
_plain_decoder = json.JSONDecoder()


_scan_sorted = _decoder.scan_once
_scan_plain = _plain_decoder.scan_once


def loads(data: bytes | str) -> Any:
    """Parses runtime output into new objects with object keys in sorted order.

    The runtime writes compact JSON, so the C scanner is called directly (no whitespace regex);
    anything else falls back to the full decoder.
    """
    if type(data) is bytes:
        data = data.decode("utf-8")
    try:
        value, end = _scan_sorted(data, 0)
    except StopIteration:
        return _decoder.decode(data)
    if end != len(data):
        return _decoder.decode(data)
    return value


def loads_plain(data: bytes | str) -> Any:
    if type(data) is bytes:
        data = data.decode("utf-8")
    try:
        value, end = _scan_plain(data, 0)
    except StopIteration:
        return _plain_decoder.decode(data)
    if end != len(data):
        return _plain_decoder.decode(data)
    return value


def convert(value: Any) -> Any:
    """Validates ``value`` as JSON and returns a new tree (tuples become lists, NaN becomes null).

    Raises ``ValueError("Failed to convert to JSON: ...")`` like the reference.
    """
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        return None if math.isnan(value) or math.isinf(value) else value
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                if not isinstance(k, str):
                    raise ValueError(
                        f"Failed to convert to JSON: unexpected type: '{type(k).__name__}' object is not an "
                        "instance of 'str'"
                    )
                k = str(k)
            out[k] = convert(v)
        return out
    if t is list or t is tuple:
        return [convert(v) for v in value]
    # Subclasses of the JSON types (str enums, int flags, OrderedDict, TypedDict instances are dicts).
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return convert(float(value))
    if isinstance(value, dict):
        return convert(dict(value))
    if isinstance(value, (list, tuple)):
        return [convert(v) for v in value]
    raise ValueError(f"Failed to convert to JSON: unsupported type {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Serializes an already converted tree."""
    return _dumps(value).encode("utf-8")


def encode(value: Any) -> bytes:
    """Converts and serializes any accepted value."""
    return _dumps(convert(value)).encode("utf-8")


def copy(value: Any) -> Any:
    """A fresh copy of a JSON tree (getters never hand out internal state)."""
    t = type(value)
    if t is dict:
        return {k: copy(v) for k, v in value.items()}
    if t is list:
        return [copy(v) for v in value]
    return value
