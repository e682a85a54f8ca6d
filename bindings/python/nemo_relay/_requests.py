# SPDX-License-Identifier: Apache-2.0
"""LLM requests and their annotated views: ``LLMRequest``, ``AnnotatedLLMRequest``, ``AnnotatedLLMResponse``
(docs/python.md, docs/annotated-request.md)."""

from __future__ import annotations

import ctypes
from typing import Any

from . import _ffi, _json
from ._types import Json, _not_instance


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
