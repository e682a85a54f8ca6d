# SPDX-License-Identifier: Apache-2.0
"""Events as subscribers and event middleware receive them: ``ScopeEvent``, ``MarkEvent`` (docs/events.md)."""

from __future__ import annotations

from typing import Any, Union

from . import _json
from ._types import LogSeverity, _SEVERITY_BY_LABEL
from ._requests import AnnotatedLLMRequest, AnnotatedLLMResponse


# ---- events -----------------------------------------------------------------------------------


class _EventBase:
    __slots__ = ("_d", "_line")

    def __init__(self, *a: Any, **k: Any) -> None:
        raise TypeError(f"No constructor defined for {type(self).__name__}")

    @classmethod
    def _make(cls, d: dict[str, Any], line: str) -> Any:
        self = object.__new__(cls)
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_line", line)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of '{type(self).__name__}' objects is not writable")

    def _get(self, k: str) -> Any:
        return _json.copy(self._d.get(k))

    kind = property(lambda self: self._d.get("kind"))
    atof_version = property(lambda self: self._d.get("atof_version"))
    uuid = property(lambda self: self._d.get("uuid"))
    parent_uuid = property(lambda self: self._d.get("parent_uuid"))
    name = property(lambda self: self._d.get("name"))
    timestamp = property(lambda self: self._d.get("timestamp"))
    category = property(lambda self: self._d.get("category"))
    data = property(lambda self: self._get("data"))
    metadata = property(lambda self: self._get("metadata"))
    category_profile = property(lambda self: self._get("category_profile"))
    data_schema = property(lambda self: self._get("data_schema"))

    def to_dict(self) -> dict[str, Any]:
        return _json.loads(self._line)

    def to_json(self) -> str:
        return self._line


class ScopeEvent(_EventBase):
    __slots__ = ()
    scope_category = property(lambda self: self._d.get("scope_category"))
    attributes = property(lambda self: list(self._d.get("attributes") or []))

    @property
    def annotated_request(self) -> AnnotatedLLMRequest | None:
        p = self._d.get("category_profile")
        a = p.get("annotated_request") if isinstance(p, dict) else None
        return AnnotatedLLMRequest._from_wire(_json.copy(a)) if isinstance(a, dict) else None

    @property
    def annotated_response(self) -> AnnotatedLLMResponse | None:
        p = self._d.get("category_profile")
        a = p.get("annotated_response") if isinstance(p, dict) else None
        return AnnotatedLLMResponse._from_wire(_json.copy(a)) if isinstance(a, dict) else None


class MarkEvent(_EventBase):
    __slots__ = ()

    @property
    def severity(self) -> LogSeverity | None:
        md = self._d.get("metadata")
        s = md.get("nemo_relay.log.severity") if isinstance(md, dict) else None
        return _SEVERITY_BY_LABEL.get(s) if isinstance(s, str) else None


Event = Union[ScopeEvent, MarkEvent]


def event_from_line(line: str) -> Event:
    d = _json.loads_plain(line)
    return (ScopeEvent if d.get("kind") == "scope" else MarkEvent)._make(d, line)


def event_from_doc(d: dict[str, Any]) -> Event:
    return (ScopeEvent if d.get("kind") == "scope" else MarkEvent)._make(d, _json.dumps(_sort_keys(d)).decode())


def _sort_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _sort_keys(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sort_keys(x) for x in v]
    return v
