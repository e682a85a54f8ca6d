# SPDX-License-Identifier: Apache-2.0
"""JSON crossing into and out of the runtime (docs/python.md, "JSON crossing").

With ``orjson`` installed (``scripts/deps.sh`` installs it; it is optional, and
``NEMO_RELAY_PURE_JSON=1`` turns it off) parsing and writing go through it; otherwise the stdlib ``json`` does the same job, more slowly. Both paths give the same
results, as docs/python.md, "JSON crossing", and the reference define them:

- NaN and +/-Infinity raise ``ValueError("Failed to convert to JSON: NaN is not JSON (at $.path)")``.
  JSON cannot carry them, and the reference (and orjson) would silently write ``null`` instead, so a
  provider would receive something else than the caller sent: a deliberate difference from the
  reference (``bindings/python/README.md``, "JSON values"). With orjson, a written ``null`` makes the
  tree be checked for non-finite floats (output without ``null`` cannot hide one).
- A non-``str`` key or a value of another type raises ``ValueError("Failed to convert to JSON: ...")``:
  whenever orjson refuses a value (an unknown type, a subclass, an integer beyond 64 bits), the
  stdlib path runs and decides. One difference remains: orjson writes ``uuid.UUID`` values and
  plain ``enum.Enum`` members natively (as their text and value) where the stdlib path refuses them.
- A container that holds itself (a dict or list inside itself, directly or not) raises
  ``ValueError("Failed to convert to JSON: circular reference detected")``, the reference's text. When a
  callback *returns* such a value, its call fails as the reference's does: with
  ``RuntimeError("internal error: ValueError: Failed to convert to JSON: circular reference detected")``
  (``is_circular_error`` lets the callback bridge tell it apart from a ``ValueError`` the callback raised).
- Output parsed back from the runtime has object keys in sorted order.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

_orjson: Any = None
if not os.environ.get("NEMO_RELAY_PURE_JSON"):  # set it to test the stdlib path
    try:  # pragma: no cover - depends on the environment
        import orjson as _orjson
    except ImportError:  # pragma: no cover
        pass

HAVE_ORJSON = _orjson is not None

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


def _std_reader(scan: Any, decoder: json.JSONDecoder, name: str, doc: str | None) -> Any:
    """A stdlib parser over ``scan`` (the C scanner of ``decoder``), falling back to ``decoder``.

    The runtime writes compact JSON, so the C scanner is called directly (no whitespace regex);
    anything else falls back to the full decoder.
    """

    def read(data: bytes | str) -> Any:
        if type(data) is bytes:
            data = data.decode("utf-8")
        try:
            value, end = scan(data, 0)
        except StopIteration:
            return decoder.decode(data)
        if end != len(data):
            return decoder.decode(data)
        return value

    read.__name__ = read.__qualname__ = name
    read.__doc__ = doc
    return read


_loads_std = _std_reader(
    _scan_sorted,
    _decoder,
    "_loads_std",
    "Parses runtime output into new objects with object keys in sorted order.",
)
_loads_plain_std = _std_reader(_scan_plain, _plain_decoder, "_loads_plain_std", None)


loads = _loads_std
loads_plain = _loads_plain_std


class _NonFinite(Exception):
    """Raised inside ``_convert`` at a NaN or an infinity; ``convert`` turns it into a ValueError."""


def _float_text(v: float) -> str:
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def _key_path(path: str, k: str) -> str:
    return f"{path}.{k}" if k.isidentifier() else f"{path}[{k!r}]"


def nonfinite_path(value: Any, path: str = "$") -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity in ``value`` (JSON types, subclasses too)."""
    if isinstance(value, float):
        return None if value - value == 0.0 else (path, value)
    if isinstance(value, (str, int)) or value is None:
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = nonfinite_path(v, _key_path(path, str(k)))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = nonfinite_path(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _has_nonfinite(v: Any) -> bool:
    """True when a plain JSON tree (dicts, lists, tuples, floats, ...) holds a NaN or an infinity.

    Iterative (no recursion limit) and with local names only: it runs on the orjson path for every
    document whose output holds a null.
    """
    fl, d, li, tu = float, dict, list, tuple
    t = type(v)
    if t is not d and t is not li and t is not tu:
        return isinstance(v, fl) and v - v != 0.0
    stack = [v]
    pop, push = stack.pop, stack.append
    while stack:
        cur = pop()
        for x in cur.values() if type(cur) is d else cur:
            tx = type(x)
            if tx is fl:
                if x - x != 0.0:
                    return True
            elif tx is d or tx is li or tx is tu:
                push(x)
    return False


def nonfinite_error(value: Any) -> ValueError:
    """The ValueError for a tree holding a NaN or an infinity, naming where."""
    found = nonfinite_path(value)
    where, v = found if found is not None else ("$", math.nan)
    return ValueError(f"Failed to convert to JSON: {_float_text(v)} is not JSON (at {where})")


def convert(value: Any) -> Any:
    """Validates ``value`` as JSON and returns a new tree (tuples become lists).

    Raises ``ValueError("Failed to convert to JSON: ...")`` like the reference; a NaN or an infinity
    raises too (naming its path), where the reference writes ``null``.
    """
    try:
        return _convert(value)
    except _NonFinite:
        raise nonfinite_error(value) from None
    except RecursionError:
        raise _too_deep(value) from None


CIRCULAR = "Failed to convert to JSON: circular reference detected"


def is_circular_error(e: BaseException) -> bool:
    """True for the ``ValueError`` this module raises for a container that holds itself."""
    return type(e) is ValueError and e.args == (CIRCULAR,)


def has_cycle(value: Any) -> bool:
    """True when a dict, list or tuple in ``value`` holds itself (iterative: no recursion limit)."""
    on_path: set[int] = set()
    finished: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        v, leaving = stack.pop()
        if leaving:
            on_path.discard(id(v))
            finished.add(id(v))
            continue
        if not isinstance(v, (dict, list, tuple)):
            continue
        i = id(v)
        if i in on_path:
            return True
        if i in finished:
            continue
        on_path.add(i)
        stack.append((v, True))
        stack.extend((c, False) for c in (v.values() if isinstance(v, dict) else v))
    return False


def _too_deep(value: Any) -> ValueError:
    if has_cycle(value):
        return ValueError(CIRCULAR)
    # The runtime refuses JSON nested deeper than 512 levels anyway; Python's recursion limit
    # (about 1000 frames, shared with the caller) is reached first on the stdlib path.
    return ValueError("Failed to convert to JSON: nesting too deep")


def _convert(value: Any) -> Any:
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        if value - value == 0.0:
            return value
        raise _NonFinite
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
            out[k] = _convert(v)
        return out
    if t is list or t is tuple:
        return [_convert(v) for v in value]
    # Subclasses of the JSON types (str enums, int flags, OrderedDict, TypedDict instances are dicts).
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _convert(float(value))
    if isinstance(value, dict):
        return _convert(dict(value))
    if isinstance(value, (list, tuple)):
        return [_convert(v) for v in value]
    raise ValueError(f"Failed to convert to JSON: unsupported type {type(value).__name__}")


def _dumps_std(value: Any) -> bytes:
    try:
        return _dumps(value).encode("utf-8")
    except RecursionError:
        raise _too_deep(value) from None
    except ValueError as e:
        if e.args == ("Circular reference detected",):  # the stdlib encoder's check
            raise ValueError(CIRCULAR) from None
        if nonfinite_path(value) is not None:
            raise nonfinite_error(value) from None
        raise


def _encode_std(value: Any) -> bytes:
    return _dumps_std(convert(value))


dumps = _dumps_std
"""Serializes an already converted tree."""

encode = _encode_std
"""Converts and serializes any accepted value."""

if _orjson is not None:
    _odumps = _orjson.dumps
    _oloads = _orjson.loads
    _SORT = _orjson.OPT_SORT_KEYS
    _STRICT = _orjson.OPT_PASSTHROUGH_SUBCLASS | _orjson.OPT_PASSTHROUGH_DATACLASS | _orjson.OPT_PASSTHROUGH_DATETIME

    def _refuse(value: Any) -> Any:
        raise TypeError

    def dumps(value: Any) -> bytes:  # noqa: F811 - the fast variant
        try:
            out = _odumps(value)
        except TypeError:
            return _dumps_std(value)
        if b"null" in out and _has_nonfinite(value):
            raise nonfinite_error(value)
        return out

    def encode(value: Any) -> bytes:  # noqa: F811 - the fast variant
        try:
            out = _odumps(value, default=_refuse, option=_STRICT)
        except TypeError:
            return _encode_std(value)  # decides: converts what JSON crossing accepts, raises ValueError otherwise
        # orjson writes NaN and infinities as null: only output with a null can hide one.
        if b"null" in out and _has_nonfinite(value):
            raise nonfinite_error(value)
        return out


if _orjson is not None:

    def loads(data: bytes | str) -> Any:  # noqa: F811 - the fast variant
        """Parses runtime output with sorted object keys: when the text already has its keys in
        order (re-writing it sorted gives the same bytes), the first parse is the answer."""
        try:
            value = _oloads(data)
            text = _odumps(value, option=_SORT)
        except (TypeError, ValueError):
            return _loads_std(data)
        if text == data:
            return value
        return _oloads(text)

    def loads_plain(data: bytes | str) -> Any:  # noqa: F811 - the fast variant
        try:
            return _oloads(data)
        except ValueError:
            return _loads_plain_std(data)


def copy(value: Any) -> Any:
    """A fresh copy of a JSON tree (getters never hand out internal state)."""
    t = type(value)
    if t is dict:
        return {k: copy(v) for k, v in value.items()}
    if t is list:
        return [copy(v) for v in value]
    return value
