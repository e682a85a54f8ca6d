# SPDX-License-Identifier: Apache-2.0
"""Plain value types: JSON aliases, timestamps, ``ScopeType``, ``LogSeverity`` and the attribute flags
(docs/python.md). Requests live in ``_requests``, middleware outcomes and contexts in ``_contexts``, events in
``_events``."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal, TypeVar, TypedDict, Union


T = TypeVar("T")

JsonPrimitive = Union[str, int, float, bool, None]
JsonValue = Any
JsonObject = dict[str, Any]
Json = Any
UnsupportedBehavior = Literal["ignore", "warn", "error"]


class DataSchema(TypedDict):
    name: str
    version: str


class EventSanitizeFields(TypedDict):
    data: Json
    category_profile: Json
    metadata: Json


EventMetadataScalar = Union[str, int, float, bool]
EventMetadataValue = Union[EventMetadataScalar, list[EventMetadataScalar]]
EventMetadata = dict[str, EventMetadataValue]


def _not_instance(value: Any, cls: str) -> TypeError:
    return TypeError(f"'{type(value).__name__}' object is not an instance of '{cls}'")


# ---- timestamps -------------------------------------------------------------------------------

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def timestamp_ns(ts: Any) -> int | None:
    if ts is None:
        return None
    if not isinstance(ts, _dt.datetime):
        raise TypeError("timestamp must be a datetime.datetime object")
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise ValueError("timestamp datetime must be timezone-aware")
    return (ts - _EPOCH) // _dt.timedelta(microseconds=1) * 1000


# ---- ScopeType --------------------------------------------------------------------------------


class ScopeType(int):
    """Scope types; members equal their integer, are unhashable and cannot be constructed."""

    __hash__ = None  # type: ignore[assignment]
    _names: dict[int, str] = {}

    Agent: "ScopeType"
    Function: "ScopeType"
    Tool: "ScopeType"
    Llm: "ScopeType"
    Retriever: "ScopeType"
    Embedder: "ScopeType"
    Reranker: "ScopeType"
    Guardrail: "ScopeType"
    Evaluator: "ScopeType"
    Custom: "ScopeType"
    Unknown: "ScopeType"

    def __new__(cls, *args: Any, **kwargs: Any) -> "ScopeType":
        raise TypeError("No constructor defined for ScopeType")

    def __repr__(self) -> str:
        return f"ScopeType.{ScopeType._names[int(self)]}"

    __str__ = __repr__


for _i, _n in enumerate(
    [
        "Agent",
        "Function",
        "Tool",
        "Llm",
        "Retriever",
        "Embedder",
        "Reranker",
        "Guardrail",
        "Evaluator",
        "Custom",
        "Unknown",
    ]
):
    _m = int.__new__(ScopeType, _i)
    ScopeType._names[_i] = _n
    setattr(ScopeType, _n, _m)

_SCOPE_TYPES = [getattr(ScopeType, ScopeType._names[i]) for i in range(11)]


def scope_type_arg(v: Any) -> int:
    if not isinstance(v, ScopeType):
        raise _not_instance(v, "ScopeType")
    return int(v)


# ---- LogSeverity ------------------------------------------------------------------------------


class LogSeverity:
    """Mark severities; ``wire`` is the C constant, ``label`` the metadata text."""

    __slots__ = ("_name", "wire", "label")
    Trace: "LogSeverity"
    Debug: "LogSeverity"
    Info: "LogSeverity"
    Warn: "LogSeverity"
    Error: "LogSeverity"

    def __init__(self, name: str, wire: int) -> None:
        self._name = name
        self.wire = wire
        self.label = name.lower()

    def __repr__(self) -> str:
        return f"LogSeverity.{self._name}"


for _i, _n in enumerate(["Trace", "Debug", "Info", "Warn", "Error"]):
    setattr(LogSeverity, _n, LogSeverity(_n, _i))
_SEVERITY_BY_LABEL = {
    getattr(LogSeverity, n).label: getattr(LogSeverity, n) for n in ["Trace", "Debug", "Info", "Warn", "Error"]
}


def severity_arg(v: Any) -> LogSeverity | None:
    if v is None or isinstance(v, LogSeverity):
        return v
    raise _not_instance(v, "LogSeverity")


# ---- attribute flags --------------------------------------------------------------------------


class _Flags:
    __slots__ = ("_value",)
    _names: tuple[tuple[str, int], ...] = ()

    def __init__(self, value: int = 0) -> None:
        if isinstance(value, type(self)):
            value = value._value
        if not isinstance(value, int) or isinstance(value, bool):
            raise _not_instance(value, "int")
        self._value = value

    @property
    def value(self) -> int:
        return self._value

    def _other(self, other: Any) -> int:
        if type(other) is not type(self):
            raise _not_instance(other, type(self).__name__)
        return other._value

    def __or__(self, other: Any) -> Any:
        return type(self)(self._value | self._other(other))

    def __and__(self, other: Any) -> Any:
        return type(self)(self._value & self._other(other))

    def __int__(self) -> int:
        return self._value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __repr__(self) -> str:
        names = [n for n, bit in self._names if self._value & bit]
        cls = type(self).__name__
        inner = " | ".join(names) if names else "0"
        return f"{cls}({cls}({inner}))"


class ScopeAttributes(_Flags):
    PARALLEL = 1
    RELOCATABLE = 2
    _names = (("PARALLEL", 1), ("RELOCATABLE", 2))

    @property
    def is_parallel(self) -> bool:
        return bool(self._value & 1)

    @property
    def is_relocatable(self) -> bool:
        return bool(self._value & 2)


class LLMAttributes(_Flags):
    STATEFUL = 1
    STREAMING = 2
    _names = (("STATEFUL", 1), ("STREAMING", 2))

    @property
    def is_stateful(self) -> bool:
        return bool(self._value & 1)

    @property
    def is_streaming(self) -> bool:
        return bool(self._value & 2)


class ToolAttributes(_Flags):
    REMOTE = 1
    _names = (("REMOTE", 1),)

    @property
    def is_remote(self) -> bool:
        return bool(self._value & 1)


def attributes_arg(v: Any, cls: type[_Flags]) -> int:
    if v is None:
        return 0
    if type(v) is not cls:
        raise _not_instance(v, cls.__name__)
    return v._value
