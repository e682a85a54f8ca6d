# SPDX-License-Identifier: Apache-2.0
"""Value types, enums, attribute flags and events (docs/python.md, docs/events.md)."""

from __future__ import annotations

import ctypes
import datetime as _dt
from typing import Any, Callable, Generic, Literal, TypeVar, TypedDict, Union

from . import _ffi, _json

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


# ---- LLMRequest -------------------------------------------------------------------------------


class LLMRequest:
    """A provider request: ``headers`` (a dict) and ``content`` (any JSON value). Getters copy."""

    __slots__ = ("_headers", "_content", "_body", "_tail")

    def __init__(self, headers: dict[str, Any], content: Json) -> None:
        if not isinstance(headers, dict):
            raise _not_instance(headers, "dict")
        self._headers = _json.convert(headers)
        self._content = _json.convert(content)
        self._body: bytes | None = None
        self._tail: bytes | None = None

    @classmethod
    def _from_wire(cls, doc: Any) -> "LLMRequest":
        r = cls.__new__(cls)
        if not isinstance(doc, dict):
            doc = {}
        h = doc.get("headers")
        r._headers = h if isinstance(h, dict) else {}
        r._content = doc.get("content")
        r._body = r._tail = None
        return r

    @classmethod
    def _from_raw(cls, raw: bytes) -> "LLMRequest":
        """A request whose wire form is ``raw``; headers and content are parsed on first use."""
        r = cls.__new__(cls)
        r._body = raw
        return r

    def __getattr__(self, name: str) -> Any:
        # Only reached for a slot that is not set yet: a request made by _from_raw.
        if name == "_tail":
            self._tail = None
            return None
        if name in ("_headers", "_content"):
            doc = _json.loads(self._body)
            if not isinstance(doc, dict):
                doc = {}
            h = doc.get("headers")
            self._headers = h if isinstance(h, dict) else {}
            self._content = doc.get("content")
            return getattr(self, name)
        raise AttributeError(f"'LLMRequest' object has no attribute '{name}'")

    def _serialized(self) -> bytes:
        """The wire form ``{"headers":H,"content":C}``; cached, since a request never changes."""
        b = self._body
        if b is None:
            tail = self._tail = b',"content":' + _json.dumps(self._content) + b"}"
            b = self._body = b'{"headers":' + _json.dumps(self._headers) + tail
        return b

    def _derived(self, doc: bytes) -> "LLMRequest":
        """The request the runtime hands a provider, from its wire form ``doc``.

        The runtime adds headers (``traceparent``) but mostly leaves the content alone: when
        ``doc`` ends with this request's content bytes only the headers are parsed and the content
        tree is shared (getters copy, so sharing is invisible).
        """
        tail = self._tail
        if tail is not None and doc.endswith(tail) and doc.startswith(b'{"headers":'):
            h = _json.loads_plain(doc[11 : len(doc) - len(tail)])
            if type(h) is dict:
                r = LLMRequest.__new__(LLMRequest)
                r._headers, r._content, r._body, r._tail = h, self._content, doc, tail
                return r
        return LLMRequest._from_wire(_json.loads_plain(doc))

    def _wire(self) -> dict[str, Any]:
        return {"headers": self._headers, "content": self._content}

    @property
    def headers(self) -> dict[str, Any]:
        return _json.copy(self._headers)

    @property
    def content(self) -> Json:
        return _json.copy(self._content)

    def __repr__(self) -> str:
        return f"LLMRequest(headers={self._headers!r}, content={self._content!r})"


def request_arg(v: Any) -> LLMRequest:
    if not isinstance(v, LLMRequest):
        raise _not_instance(v, "LLMRequest")
    return v


# ---- AnnotatedLLMRequest ----------------------------------------------------------------------

_REQ_CTOR_FIELDS = ("messages", "instructions", "model", "params", "tools", "tool_choice", "api_specific")
_REQ_EXTRA_FIELDS = (
    "store",
    "stream",
    "parallel_tool_calls",
    "user",
    "previous_response_id",
    "service_tier",
    "metadata",
    "include",
    "reasoning",
    "truncation",
    "max_output_tokens",
    "max_tool_calls",
    "top_logprobs",
)
_REQ_FIELDS = set(_REQ_CTOR_FIELDS) | set(_REQ_EXTRA_FIELDS)

#: The classes of nemo_relay_annotated_request_check's refusals.
_CHECK_ERRORS: dict[str, type[Exception]] = {
    "type_error": TypeError,
    "value_error": ValueError,
    "overflow_error": OverflowError,
}


def _invalid(field: str, why: str) -> ValueError:
    return ValueError(f"invalid {field}: {why}")


def _check_fields(fields: dict[str, Any], constructing: bool) -> dict[str, Any]:
    """The core checks and normalizes the fields, in order (docs/annotated-request.md, "Checking fields")."""
    wire: dict[str, Any] = {}
    for name, v in fields.items():
        try:
            wire[name] = _json.convert(v)
        except ValueError as e:
            raise _invalid(name, str(e)) from None
    body = _json.dumps(wire)
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    flags = _ffi.ANNOTATED_CHECK_CONSTRUCT if constructing else 0
    status = _ffi.lib.nemo_relay_annotated_request_check(ctypes.byref(out), ctypes.byref(n), body, len(body), flags)
    if status != _ffi.OK:
        raise ValueError(_ffi.lib.nemo_relay_last_error_message().decode("utf-8", "replace"))
    answer = _json.loads(_ffi.take_string(out, n))
    error = answer.get("error")
    if error is not None:
        raise _CHECK_ERRORS.get(error["kind"], ValueError)(error["message"])
    return answer["fields"]


class AnnotatedLLMRequest:
    """The provider-neutral request. Getters return copies: re-assign fields, never mutate in place."""

    def __init__(
        self,
        messages: list[dict[str, Any]],
        *,
        instructions: Any = None,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        api_specific: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        # The reference checks `model` first (an argument conversion), then the other fields in this order.
        given: dict[str, Any] = {}
        if model is not None:
            given["model"] = model
        given["messages"] = messages
        for name, v in (
            ("params", params),
            ("instructions", instructions),
            ("tools", tools),
            ("tool_choice", tool_choice),
            ("api_specific", api_specific),
            ("extra", extra),
        ):
            if v is not None:
                given[name] = v
        checked = _check_fields(given, True)
        extra_value = checked.pop("extra", None)
        d = {k: v for k, v in checked.items() if v is not None}
        if params is not None and not d.get("params"):
            d.pop("params", None)
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_extra", extra_value or {})

    @classmethod
    def _from_wire(cls, doc: dict[str, Any]) -> "AnnotatedLLMRequest":
        self = cls.__new__(cls)
        self._fill(doc)
        return self

    @classmethod
    def _from_raw(cls, raw: bytes) -> "AnnotatedLLMRequest":
        """An annotation whose wire form is ``raw`` (a codec's output), parsed on first use; an
        untouched one goes back to a codec as the same bytes."""
        self = cls.__new__(cls)
        self.__dict__["_raw"] = raw
        return self

    def _fill(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            doc = {}
        d = {k: v for k, v in doc.items() if k in _REQ_FIELDS and v is not None}
        extra = {k: v for k, v in doc.items() if k not in _REQ_FIELDS}
        d.setdefault("messages", [])
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_extra", extra)

    def _wire(self) -> dict[str, Any]:
        out = dict(self._extra)
        out.update(self._d)
        return out

    def _serialized(self) -> bytes:
        raw = self.__dict__.get("_raw")
        return raw if raw is not None else _json.dumps(self._wire())

    def __getattr__(self, name: str) -> Any:
        if name in ("_d", "_extra"):
            raw = self.__dict__.get("_raw")
            if raw is not None:
                self._fill(_json.loads(raw))
                return self.__dict__[name]
        raise AttributeError(f"'AnnotatedLLMRequest' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        self._d  # noqa: B018 - parses a lazy annotation before it changes
        self.__dict__.pop("_raw", None)
        if name == "extra":
            object.__setattr__(self, "_extra", _check_fields({"extra": value}, False)["extra"])
            return
        if name not in _REQ_FIELDS:
            raise AttributeError(f"'AnnotatedLLMRequest' object has no attribute '{name}'")
        v = _check_fields({name: value}, False)[name]
        if v is None or (name == "params" and not v):
            self._d.pop(name, None)
            if name == "messages":
                self._d["messages"] = []
        else:
            self._d[name] = v

    @property
    def extra(self) -> dict[str, Any]:
        return _json.copy(self._extra)

    def _queries(self) -> dict[str, Any]:
        """The core's answers for this request (one crossing; docs/annotated-request.md, "Queries")."""
        body = self._serialized()
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        status = _ffi.lib.nemo_relay_annotated_request_queries(ctypes.byref(out), ctypes.byref(n), body, len(body))
        if status != _ffi.OK:
            raise ValueError(_ffi.lib.nemo_relay_last_error_message().decode("utf-8", "replace"))
        return _json.loads(_ffi.take_string(out, n))

    def system_prompt(self) -> str | None:
        """The instructions' text, else the first system or developer message's text, else ``None``."""
        return self._queries()["system_prompt"]

    def last_user_message(self) -> str | None:
        """The last user message with text (turns holding only tool results are skipped), or ``None``."""
        return self._queries()["last_user_message"]

    def has_tool_calls(self) -> bool:
        """True when a message carries a tool call (OpenAI ``tool_calls``, Anthropic ``tool_use``, ...)."""
        return bool(self._queries()["has_tool_calls"])

    def __repr__(self) -> str:
        model = self._d.get("model")
        shown = f'Some("{model}")' if model is not None else "None"
        return f"<AnnotatedLLMRequest messages={len(self._d.get('messages', []))} model={shown}>"



def _request_field(name: str) -> property:
    return property(lambda self: _json.copy(self._d.get(name)), doc=f"The ``{name}`` field (a copy), or ``None``.")


# The fields are class properties, so ``dir()`` and ``help()`` list them as the reference's do.
for _field in sorted(_REQ_FIELDS):
    setattr(AnnotatedLLMRequest, _field, _request_field(_field))
del _field

def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [t for t in texts if isinstance(t, str)]
        return "".join(texts) if texts else None
    return None


# ---- AnnotatedLLMResponse ---------------------------------------------------------------------

_RESP_FIELDS = (
    "id",
    "model",
    "message",
    "tool_calls",
    "finish_reason",
    "usage",
    "optimization_summary",
    "api_specific",
)
_FINISH = {"complete", "length", "tool_use", "content_filter", "stop_sequence"}


class AnnotatedLLMResponse:
    """The normalized provider response (read-only)."""

    __slots__ = ("_d", "_extra")

    def __init__(
        self,
        id: str | None = None,
        model: str | None = None,
        message: Any = None,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: Any = None,
        usage: dict[str, Any] | None = None,
        api_specific: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        d: dict[str, Any] = {}
        for name, v in (
            ("id", id),
            ("model", model),
            ("message", message),
            ("tool_calls", tool_calls),
            ("usage", usage),
            ("api_specific", api_specific),
        ):
            if v is not None:
                d[name] = _json.convert(v)
        if finish_reason is not None:
            if isinstance(finish_reason, str):
                d["finish_reason"] = finish_reason if finish_reason in _FINISH else {"unknown": finish_reason}
            elif isinstance(finish_reason, dict) and set(finish_reason) == {"unknown"}:
                d["finish_reason"] = _json.convert(finish_reason)
            else:
                raise _invalid("finish_reason", f"unexpected type {type(finish_reason).__name__}")
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_extra", _json.convert(extra) if extra else {})

    @classmethod
    def _from_wire(cls, doc: dict[str, Any]) -> "AnnotatedLLMResponse":
        self = cls.__new__(cls)
        object.__setattr__(self, "_d", {k: v for k, v in doc.items() if k in _RESP_FIELDS and v is not None})
        object.__setattr__(self, "_extra", {k: v for k, v in doc.items() if k not in _RESP_FIELDS})
        return self

    def _wire(self) -> dict[str, Any]:
        out = dict(self._extra)
        out.update(self._d)
        return out

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'AnnotatedLLMResponse' objects is not writable")

    def _get(self, name: str) -> Any:
        return _json.copy(self._d.get(name))

    id = property(lambda self: self._get("id"))
    model = property(lambda self: self._get("model"))
    message = property(lambda self: self._get("message"))
    tool_calls = property(lambda self: self._get("tool_calls"))
    usage = property(lambda self: self._get("usage"))
    optimization_summary = property(lambda self: self._get("optimization_summary"))
    api_specific = property(lambda self: self._get("api_specific"))

    @property
    def finish_reason(self) -> str | None:
        f = self._d.get("finish_reason")
        if isinstance(f, dict):
            return f.get("unknown")
        return f

    @property
    def extra(self) -> dict[str, Any]:
        return _json.copy(self._extra)

    def response_text(self) -> str | None:
        return _text_of(self._d.get("message"))

    def has_tool_calls(self) -> bool:
        return bool(self._d.get("tool_calls"))

    def __repr__(self) -> str:
        return f"<AnnotatedLLMResponse id={self._d.get('id')!r} model={self._d.get('model')!r}>"


def annotated_response_arg(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if isinstance(v, AnnotatedLLMResponse):
        return v._wire()
    if isinstance(v, dict):
        try:
            return AnnotatedLLMResponse(**v)._wire() if set(v) <= set(_RESP_FIELDS) | {"extra"} else _json.convert(v)
        except (TypeError, ValueError) as e:
            raise ValueError(f"invalid annotated_response: {e}") from None
    raise ValueError(f"invalid annotated_response: unexpected type {type(v).__name__}")


# ---- intercept outcomes, pending marks, tool results ------------------------------------------


class PendingMarkSpec:
    __slots__ = ("name", "category", "category_profile", "data", "metadata", "data_schema", "severity")

    def __init__(
        self,
        name: str,
        category: str | None = None,
        category_profile: Json = None,
        data: Json = None,
        metadata: Json = None,
        data_schema: Json = None,
        severity: LogSeverity | None = None,
    ) -> None:
        for k, v in (
            ("name", name),
            ("category", category),
            ("category_profile", _json.convert(category_profile)),
            ("data", _json.convert(data)),
            ("metadata", _json.convert(metadata)),
            ("data_schema", _json.convert(data_schema)),
            ("severity", severity_arg(severity)),
        ):
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'PendingMarkSpec' objects is not writable")

    def _wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "category_profile": self.category_profile,
            "data": self.data,
            "metadata": self.metadata,
            "data_schema": self.data_schema,
            "severity": self.severity.label if self.severity is not None else None,
        }


def pending_mark_from_wire(d: dict[str, Any]) -> PendingMarkSpec:
    m = PendingMarkSpec.__new__(PendingMarkSpec)
    for k in ("name", "category", "category_profile", "data", "metadata", "data_schema"):
        object.__setattr__(m, k, d.get(k))
    object.__setattr__(m, "severity", _SEVERITY_BY_LABEL.get(d.get("severity")))  # type: ignore[arg-type]
    return m


def pending_marks_wire(marks: Any) -> list[dict[str, Any]]:
    out = []
    for m in marks or []:
        if not isinstance(m, PendingMarkSpec):
            raise _not_instance(m, "PendingMarkSpec")
        out.append(m._wire())
    return out


class LLMRequestInterceptOutcome:
    __slots__ = ("request", "annotated_request", "pending_marks", "optimization_contributions")

    def __init__(
        self,
        request: LLMRequest,
        annotated_request: AnnotatedLLMRequest | None = None,
        pending_marks: list[PendingMarkSpec] | None = None,
        optimization_contributions: list[dict[str, Any]] | None = None,
    ) -> None:
        request_arg(request)
        if annotated_request is not None and not isinstance(annotated_request, AnnotatedLLMRequest):
            raise _not_instance(annotated_request, "AnnotatedLLMRequest")
        pending_marks_wire(pending_marks)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "annotated_request", annotated_request)
        object.__setattr__(self, "pending_marks", list(pending_marks or []))
        object.__setattr__(self, "optimization_contributions", list(optimization_contributions or []))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'LLMRequestInterceptOutcome' objects is not writable")


class ToolExecutionResult(Generic[T]):
    """The canonical result of a tool callback and of ``tools.execute``."""

    __slots__ = ("result", "annotation")

    def __init__(self, result: T, annotation: Json = None) -> None:
        object.__setattr__(self, "result", result)
        object.__setattr__(self, "annotation", annotation)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionResult' objects is not writable")

    def __repr__(self) -> str:
        return f"ToolExecutionResult(result={self.result!r}, annotation={self.annotation!r})"


class ToolExecutionInterceptOutcome:
    __slots__ = ("result", "annotation", "pending_marks")

    def __init__(self, result: Json, pending_marks: list[PendingMarkSpec] | None = None, *, annotation: Json = None):
        pending_marks_wire(pending_marks)
        object.__setattr__(self, "result", result)
        object.__setattr__(self, "annotation", annotation)
        object.__setattr__(self, "pending_marks", list(pending_marks or []))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionInterceptOutcome' objects is not writable")


class ToolExecutionContext:
    __slots__ = ("tool_name", "args", "tool_call_id")

    def __init__(self, tool_name: str, args: Json, tool_call_id: str | None) -> None:
        object.__setattr__(self, "tool_name", tool_name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "tool_call_id", tool_call_id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionContext' objects is not writable")

    def __repr__(self) -> str:
        return f"ToolExecutionContext(tool_name={self.tool_name!r}, tool_call_id={self.tool_call_id!r})"


# ---- codec contexts ---------------------------------------------------------------------------


class LlmCodecIdentity:
    __slots__ = ("kind", "id")

    def __init__(self, kind: str, id: str | None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "id", id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"LlmCodecIdentity(kind={self.kind!r}, id={self.id!r})"


class _CodecContext:
    __slots__ = ("codec", "_codec_obj")

    def __init__(self, wire: Any, codec_obj: Any = None) -> None:
        wire = wire if isinstance(wire, dict) else {}
        object.__setattr__(self, "codec", LlmCodecIdentity(wire.get("kind", "none"), wire.get("id")))
        object.__setattr__(self, "_codec_obj", codec_obj)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def resolve_codec(self) -> Any:
        if self.codec.kind == "none":
            return None
        if self._codec_obj is not None:
            return self._codec_obj
        if self.codec.kind == "builtin" and self.codec.id and builtin_codec is not None:
            return builtin_codec(self.codec.id)
        return None


#: Finds a built-in codec by id. ``codecs`` (a layer above this module: it builds on these types) sets it
#: when it is imported, which ``nemo_relay/__init__.py`` does before any call can make a context.
builtin_codec: Callable[[str], Any] | None = None


class LlmSanitizeRequestContext(_CodecContext):
    pass


class LlmSanitizeResponseContext(_CodecContext):
    pass


LlmRequestContext = LlmSanitizeRequestContext
LlmResponseContext = LlmSanitizeResponseContext


class LlmExecutionContext:
    __slots__ = ("request_codec", "response_codec")

    def __init__(self, wire: Any) -> None:
        wire = wire if isinstance(wire, dict) else {}
        object.__setattr__(self, "request_codec", LlmRequestContext(wire.get("request_codec")))
        object.__setattr__(self, "response_codec", LlmResponseContext(wire.get("response_codec")))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)


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
