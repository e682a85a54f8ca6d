# SPDX-License-Identifier: Apache-2.0
"""Managed and manual LLM calls (docs/pipeline.md; docs/python.md, "Managed calls")."""

from __future__ import annotations

import asyncio
from ctypes import byref, c_void_p
from typing import Any, Callable

from . import _errors, _ffi, _json
from ._runtime import (
    cstr,
    CallState,
    LLMHandle,
    _tls,
    ScopeHandle,
    arm_cancel,
    callback_struct,
    done_struct,
    enter,
    lib,
    managed_structs,
    loop_or_raise,
    name_arg as _name_arg,
    no_result as _none,
    parent_arg,
    run_chain,
    run_managed,
    runtime,
    stack_ptr,
)
from ._types import LLMAttributes, attributes_arg, timestamp_ns
from ._requests import AnnotatedLLMRequest, LLMRequest, annotated_response_arg, request_arg
from ._contexts import LLMRequestInterceptOutcome, pending_mark_from_wire
from ._stream import LlmStream, StreamCall, check_sync, collector_struct, finalizer_struct, start_layer
from .codecs import native_codec

__all__ = ["execute", "stream_execute", "LlmStream", "call", "call_end", "conditional_execution", "request_intercepts"]

_loads = _json.loads
_encode = _json.encode
_execute = lib.nemo_relay_llm_execute
_stream_execute = lib.nemo_relay_llm_stream_execute
_OK = _ffi.OK


def _options(
    handle: Any,
    attributes: Any,
    data: Any,
    metadata: Any,
    model_name: Any,
    codec: Any,
    response_codec: Any,
    timestamp: Any,
    keep: list[Any],
) -> _ffi.LLMOptions:
    o = _ffi.LLMOptions(_ffi.LLM_OPTIONS_VERSION, attributes_arg(attributes, LLMAttributes), parent_arg(handle))
    if data is not None:
        b = _encode(data)
        o.data, o.data_len = b, len(b)
    if metadata is not None:
        b = _encode(metadata)
        o.metadata, o.metadata_len = b, len(b)
    if model_name is not None:
        if not isinstance(model_name, str):
            raise TypeError(f"'{type(model_name).__name__}' object is not an instance of 'str'")
        o.model_name = cstr(model_name)
    if codec is not None:
        h, k = native_codec(codec, "codec")
        o.codec = h
        keep.append(k)
    if response_codec is not None:
        h, k = native_codec(response_codec, "response_codec")
        o.response_codec = h
        keep.append(k)
    ts = timestamp_ns(timestamp)
    if ts is not None:
        o.has_timestamp, o.timestamp_ns = True, ts
    return o


class _LLMCall(CallState):
    """One managed LLM call; calling it is the provider callback (builds the request, runs ``func``)."""

    __slots__ = ("func", "req")

    def __call__(self, token: int, doc: bytes) -> int:
        self.req = self.req._derived(doc)
        return run_managed(token, self._produce, _encode)

    def _produce(self) -> Any:
        return self.func(self.req)


def execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], Any],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    model_name: str | None = None,
    codec: Any = None,
    response_codec: Any = None,
) -> "asyncio.Future[Any]":
    """Runs a managed LLM call; the returned future resolves to a JSON copy of the response."""
    loop = loop_or_raise()
    req = request_arg(request)
    keep: list[Any] = []
    opts = None
    if (
        handle is not None
        or attributes is not None
        or data is not None
        or metadata is not None
        or model_name is not None
        or codec is not None
        or response_codec is not None
    ):
        opts = byref(_options(handle, attributes, data, metadata, model_name, codec, response_codec, None, keep))
    body = req._serialized()
    fut = loop.create_future()
    state = _LLMCall(loop, fut, _loads)
    state.func = func
    state.req = req
    provider, done = managed_structs(state)
    out = c_void_p()
    tls = _tls
    prev = getattr(tls, "call", None)
    state.parent = prev
    tls.call = state
    try:
        rc = _execute(byref(out), runtime(), stack_ptr(), cstr(name), body, len(body), opts, provider, done)
    finally:
        tls.call = prev
    if rc != _OK:
        raise _errors.last_error(rc)
    if fut.done():
        lib.nemo_relay_call_free(out)
    else:
        arm_cancel(state, out.value)
    return fut


def stream_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], Any],
    collector: Callable[[Any], None] | None,
    finalizer: Callable[[], Any] | None,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    model_name: str | None = None,
    codec: Any = None,
    response_codec: Any = None,
) -> "asyncio.Future[LlmStream]":
    """Runs a managed streaming LLM call (docs/pipeline.md, "Streaming LLM call"; docs/python.md, "Streams").

    ``func(request)`` must return an async iterator of JSON chunks; ``collector(chunk)`` (sync) sees a
    copy of each chunk, ``finalizer()`` (sync) gives the end payload. The future resolves to an
    ``LlmStream`` once the call started (its start event is recorded); a failure before that (a
    guardrail rejection, say) is raised by the future.
    """
    loop = loop_or_raise()
    if not callable(func):
        raise TypeError(f"'{type(func).__name__}' object is not callable")
    check_sync(collector, "collector")
    check_sync(finalizer, "finalizer")
    req = request_arg(request)
    keep: list[Any] = []
    opts = None
    if (
        handle is not None
        or attributes is not None
        or data is not None
        or metadata is not None
        or model_name is not None
        or codec is not None
        or response_codec is not None
    ):
        opts = byref(_options(handle, attributes, data, metadata, model_name, codec, response_codec, None, keep))
    body = req._serialized()
    n = cstr(name) if isinstance(name, str) else _name_arg(name)
    fut = loop.create_future()
    state = StreamCall(loop, fut)

    def provider(token: int, doc: bytes) -> int:
        r = req._derived(doc)
        return start_layer(token, state, lambda: func(r), False)

    so = _ffi.StreamOptions(_ffi.STREAM_OPTIONS_VERSION, 0)
    if collector is not None:
        so.collector = collector_struct(collector, state)
    if finalizer is not None:
        so.finalizer = finalizer_struct(finalizer, state)
    so.on_chunk = callback_struct(state.on_chunk)
    so.on_end = done_struct(state)
    prov = callback_struct(provider)
    out = c_void_p()
    with enter(state):
        rc = _stream_execute(byref(out), runtime(), stack_ptr(), n, body, len(body), opts, byref(so), byref(prov))
    if rc != _OK:
        raise _errors.last_error(rc)
    state.native = out.value
    if state.feed.done and not state.stream_made:
        state.release()  # failed before its start, inside the call
    if not fut.done():
        fut.add_done_callback(state.cancel_before_start)
    return fut


def call(
    name: str,
    request: LLMRequest,
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    model_name: str | None = None,
    timestamp: Any = None,
) -> LLMHandle:
    """Starts a manual LLM span and queues its start event."""
    req = request_arg(request)
    keep: list[Any] = []
    opts = _options(handle, attributes, data, metadata, model_name, None, None, timestamp, keep)
    body = _json.dumps(req._wire())
    out = c_void_p()
    _errors.check(
        lib.nemo_relay_llm_call(byref(out), runtime(), stack_ptr(), cstr(name), body, len(body), byref(opts))
    )
    return LLMHandle(out.value)


def call_end(
    handle: LLMHandle,
    response: Any,
    *,
    data: Any = None,
    metadata: Any = None,
    annotated_response: Any = None,
    response_codec: Any = None,
    timestamp: Any = None,
) -> None:
    """Ends a manual LLM span; codec failures only omit the annotation."""
    if type(handle) is not LLMHandle:
        raise TypeError(f"'{type(handle).__name__}' object is not an instance of 'LLMHandle'")
    ann = annotated_response_arg(annotated_response)
    o = _ffi.LLMEndOptions(_ffi.LLM_END_OPTIONS_VERSION)
    keep: list[Any] = []
    if data is not None:
        b = _encode(data)
        o.data, o.data_len = b, len(b)
    if metadata is not None:
        b = _encode(metadata)
        o.metadata, o.metadata_len = b, len(b)
    if ann is not None:
        b = _json.dumps(ann)
        o.annotated_response, o.annotated_response_len = b, len(b)
    if response_codec is not None:
        h, k = native_codec(response_codec, "response_codec")
        o.response_codec = h
        keep.append(k)
    ts = timestamp_ns(timestamp)
    if ts is not None:
        o.has_timestamp, o.timestamp_ns = True, ts
    body = _encode(response)
    _errors.check(lib.nemo_relay_llm_call_end(runtime(), stack_ptr(), handle._handle(), body, len(body), byref(o)))


# ---- chain helpers (docs/pipeline.md, "Chain helpers"; docs/python.md, "Dual mode") -----------

_conditional = lib.nemo_relay_llm_conditional_execution
_intercepts = lib.nemo_relay_llm_request_intercepts


def _outcome(payload: bytes) -> LLMRequestInterceptOutcome:
    d = _loads(payload)
    a = d.get("annotated_request")
    return LLMRequestInterceptOutcome(
        LLMRequest._from_wire(d.get("request")),
        AnnotatedLLMRequest._from_wire(a) if isinstance(a, dict) else None,
        [pending_mark_from_wire(m) for m in d.get("pending_marks") or ()],
    )


def conditional_execution(request: LLMRequest) -> Any:
    """Runs the LLM conditional guardrails (global and scope-local) with their guardrail scopes.

    A rejection raises ``guardrail rejected: <reason>``; no LLM events and no rejection mark.
    """
    body = request_arg(request)._serialized()
    rt, stack = runtime(), stack_ptr()
    return run_chain(lambda done: _conditional(rt, stack, body, len(body), done), _none)


def request_intercepts(name: str, request: LLMRequest) -> Any:
    """Runs the LLM request-intercept chain without a codec; emits nothing (not even pending marks)."""
    body = request_arg(request)._serialized()
    n = _name_arg(name)
    rt, stack = runtime(), stack_ptr()
    return run_chain(lambda done: _intercepts(rt, stack, n, body, len(body), done), _outcome)
