# SPDX-License-Identifier: Apache-2.0
"""Adapters from Python middleware callables to the C callback kinds, and (de)registration."""

from __future__ import annotations

import asyncio
import inspect
import logging
from ctypes import byref, c_bool
from typing import Any, Callable

from . import _errors, _ffi, _json
from ._runtime import (
    positional_arity,
    cstr,
    CallState,
    run_managed,
    running_loop,
    SyncFuture,
    callback_struct,
    current_call,
    done_struct,
    enter,
    lib,
    name_arg,
    parent_arg as owner_arg,  # the owner of a registration is checked like a parent scope
    run,
    runtime,
)
from ._requests import AnnotatedLLMRequest, LLMRequest, request_arg
from ._contexts import (
    LLMRequestInterceptOutcome,
    LlmExecutionContext,
    LlmSanitizeRequestContext,
    LlmSanitizeResponseContext,
    ToolExecutionContext,
    ToolExecutionInterceptOutcome,
    ToolExecutionResult,
    pending_marks_wire,
)
from ._events import event_from_doc
from ._stream import stream_intercept

log = logging.getLogger("nemo_relay")
_loads = _json.loads
_dumps = _json.dumps
_encode = _json.encode

# ---- argument checks shared by every registry --------------------------------------------------


def check_priority(priority: Any) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"'{type(priority).__name__}' object cannot be interpreted as an integer")
    if not -(2**31) <= priority < 2**31:
        raise OverflowError(
            "signed integer is greater than maximum" if priority > 0 else "signed integer is less than minimum"
        )
    return priority


def check_bool(v: Any) -> bool:
    if type(v) is not bool:
        raise TypeError(f"'{type(v).__name__}' object is not an instance of 'bool'")
    return v


def register(owner: Any, kind: int, name: str, priority: Any, flags: int, handler: Callable[[int, bytes], int]) -> None:
    o = owner_arg(owner)
    p = check_priority(priority)
    n = name_arg(name)
    cb = callback_struct(handler)
    _errors.check(lib.nemo_relay_register(runtime(), o, kind, n, p, flags, byref(cb)))


def deregister(owner: Any, kind: int, name: str) -> bool:
    o = owner_arg(owner)
    removed = c_bool(False)
    _errors.check(lib.nemo_relay_deregister(byref(removed), runtime(), o, kind, cstr(name)))
    return removed.value


# ---- helpers ----------------------------------------------------------------------------------


def _rejection(v: Any, what: str) -> bytes:
    if v is None:
        return b"null"
    if isinstance(v, str):
        return _dumps(v)
    raise _errors.InternalError(f"internal error: {what} returned unexpected type: {type(v).__name__}")


def _make_next(token: int, convert: Callable[[bytes], Any], wire: Callable[[Any], bytes]) -> Callable[[Any], Any]:
    """The ``next`` of an execution intercept: runs the inner layers and returns an awaitable."""
    outer = current_call()

    def next_(value: Any) -> Any:
        body = wire(value)
        try:
            loop: Any = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        fut = loop.create_future() if loop is not None else SyncFuture()
        st = CallState(loop, fut, convert)
        st.parent = current_call() or outer
        done = done_struct(st)
        with enter(st.parent):
            rc = lib.nemo_relay_token_next(token, body, len(body), byref(done))
        if rc != _ffi.OK:
            raise _errors.last_error(rc)
        return fut

    return next_


# ---- LLM ---------------------------------------------------------------------------------------


def llm_conditional(fn: Any) -> Callable[[int, bytes], int]:
    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        return run(
            token,
            lambda: fn(LLMRequest._from_wire(d["request"])),
            lambda v: _rejection(v, "LLM conditional guardrail"),
        )

    return handler


def request_outcome_wire(v: Any) -> bytes:
    if (
        isinstance(v, tuple)
        and len(v) == 2
        and isinstance(v[0], LLMRequest)
        and (v[1] is None or isinstance(v[1], AnnotatedLLMRequest))
    ):
        # Accept both (docs/python.md, "Legacy callback forms", #1): the (request, annotated) tuple.
        v = LLMRequestInterceptOutcome(v[0], v[1])
    if not isinstance(v, LLMRequestInterceptOutcome):
        raise _errors.InternalError(
            "internal error: LLM request intercept must return LLMRequestInterceptOutcome: "
            f"'{type(v).__name__}' object is not an instance of 'LLMRequestInterceptOutcome'"
        )
    a = v.annotated_request
    return _dumps(
        {
            "request": v.request._wire(),
            "annotated_request": a._wire() if a is not None else None,
            "pending_marks": pending_marks_wire(v.pending_marks),
        }
    )


def llm_request(fn: Any) -> Callable[[int, bytes], int]:
    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        a = d.get("annotated_request")
        return run(
            token,
            lambda: fn(
                d["name"], LLMRequest._from_wire(d["request"]), AnnotatedLLMRequest._from_wire(a) if a else None
            ),
            request_outcome_wire,
        )

    return handler


def _llm_wire(req: Any) -> bytes:
    return _dumps(request_arg(req)._wire())


def llm_execution(fn: Any) -> Callable[[int, bytes], int]:
    legacy = positional_arity(fn) == 3  # docs/python.md, "Legacy callback forms", #9: fn(name, request, next)

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        nxt = _make_next(token, _loads, _llm_wire)
        req = LLMRequest._from_wire(d["request"])
        if legacy:
            return run_managed(token, lambda: fn(d["name"], req, nxt), _encode)
        return run_managed(token, lambda: fn(d["name"], req, LlmExecutionContext(d.get("context")), nxt), _encode)

    return handler


def llm_sanitize_request(fn: Any) -> Callable[[int, bytes], int]:
    legacy = positional_arity(fn) == 1  # docs/python.md, "Legacy callback forms", #12

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        req = LLMRequest._from_wire(d["request"])
        ctx = d.get("context") or {}

        def produce() -> Any:
            return fn(req) if legacy else fn(req, LlmSanitizeRequestContext(ctx.get("request_codec")))

        def finish(v: Any) -> bytes:
            if v is None:
                return b"null"
            return _dumps(request_arg(v)._wire())

        return run(token, produce, finish, store=False)

    return handler


def llm_sanitize_response(fn: Any) -> Callable[[int, bytes], int]:
    legacy = positional_arity(fn) == 1

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        ctx = d.get("context") or {}

        def produce() -> Any:
            r = d.get("response")
            return fn(r) if legacy else fn(r, LlmSanitizeResponseContext(ctx.get("response_codec")))

        return run(token, produce, _encode, store=False)

    return handler


def llm_stream_execution(fn: Any) -> Callable[[int, bytes], int]:
    return stream_intercept(fn)


# ---- tools ------------------------------------------------------------------------------------


def tool_conditional(fn: Any) -> Callable[[int, bytes], int]:
    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        return run(
            token, lambda: fn(d["tool_name"], d.get("args")), lambda v: _rejection(v, "tool conditional guardrail")
        )

    return handler


def tool_request(fn: Any) -> Callable[[int, bytes], int]:
    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        return run(token, lambda: fn(d["tool_name"], d.get("args")), _encode)

    return handler


def tool_result_wire(v: Any) -> bytes:
    if isinstance(v, ToolExecutionResult):
        return _dumps({"result": _json.convert(v.result), "annotation": _json.convert(v.annotation)})
    # Accept both (docs/python.md, "Legacy callback forms", #2): a plain JSON value becomes ToolExecutionResult(value).
    return _dumps({"result": _json.convert(v), "annotation": None})


def tool_result_from(doc: bytes) -> ToolExecutionResult[Any]:
    d = _loads(doc)
    return ToolExecutionResult(d.get("result"), d.get("annotation"))


def _tool_outcome_wire(v: Any) -> bytes:
    if not isinstance(v, ToolExecutionInterceptOutcome):
        raise _errors.InvalidArgumentError(
            "invalid argument: tool execution intercept must return ToolExecutionInterceptOutcome; "
            f"got {type(v).__name__}"
        )
    return _dumps(
        {
            "result": _json.convert(v.result),
            "annotation": _json.convert(v.annotation),
            "pending_marks": pending_marks_wire(v.pending_marks),
        }
    )


def _legacy_tool_outcome_wire(v: Any) -> bytes:
    if isinstance(v, ToolExecutionInterceptOutcome):
        return _tool_outcome_wire(v)
    return tool_result_wire(v)


def tool_execution(fn: Any) -> Callable[[int, bytes], int]:
    legacy = positional_arity(fn) == 3  # docs/python.md, "Legacy callback forms", #11: fn(tool_name, args, next)

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        nxt = _make_next(token, tool_result_from, _encode)
        if legacy:
            return run_managed(token, lambda: fn(d["tool_name"], d.get("args"), nxt), _legacy_tool_outcome_wire)
        ctx = ToolExecutionContext(d["tool_name"], d.get("args"), d.get("tool_call_id"))
        return run_managed(token, lambda: fn(ctx, nxt), _tool_outcome_wire)

    return handler


def tool_sanitize(fn: Any, key: str) -> Callable[[int, bytes], int]:
    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        return run(token, lambda: fn(d["tool_name"], d.get(key)), _encode, store=False)

    return handler


# ---- events -----------------------------------------------------------------------------------


def event_sanitize(fn: Any) -> Callable[[int, bytes], int]:
    home = running_loop()

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)

        def finish(v: Any) -> bytes:
            if not isinstance(v, dict):
                raise _errors.InternalError(
                    f"internal error: event sanitizer returned unexpected type: {type(v).__name__}"
                )
            return _encode(v)

        return run(
            token, lambda: fn(event_from_doc(d["event"]), d["fields"]), finish, store=False, nest=True, home=home
        )

    return handler


def metadata_injector(fn: Any) -> Callable[[int, bytes], int]:
    home = running_loop()

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        return run(token, lambda: fn(event_from_doc(d["event"])), _encode, store=False, nest=True, home=home)

    return handler


# ---- the registries: (kind, adapter, takes break_chain) ---------------------------------------

KINDS: dict[str, tuple[int, Callable[[Any], Callable[[int, bytes], int]], bool]] = {
    "llm_request": (_ffi.LLM_REQUEST_INTERCEPT, llm_request, True),
    "llm_execution": (_ffi.LLM_EXECUTION_INTERCEPT, llm_execution, False),
    "llm_stream_execution": (_ffi.LLM_STREAM_EXECUTION_INTERCEPT, llm_stream_execution, False),
    "tool_request": (_ffi.TOOL_REQUEST_INTERCEPT, tool_request, True),
    "tool_execution": (_ffi.TOOL_EXECUTION_INTERCEPT, tool_execution, False),
    "llm_conditional_execution": (_ffi.LLM_CONDITIONAL_EXECUTION, llm_conditional, False),
    "llm_sanitize_request": (_ffi.LLM_SANITIZE_REQUEST, llm_sanitize_request, False),
    "llm_sanitize_response": (_ffi.LLM_SANITIZE_RESPONSE, llm_sanitize_response, False),
    "tool_conditional_execution": (_ffi.TOOL_CONDITIONAL_EXECUTION, tool_conditional, False),
    "tool_sanitize_request": (_ffi.TOOL_SANITIZE_REQUEST, lambda f: tool_sanitize(f, "args"), False),
    "tool_sanitize_response": (_ffi.TOOL_SANITIZE_RESPONSE, lambda f: tool_sanitize(f, "result"), False),
    "mark_sanitize": (_ffi.MARK_SANITIZE, event_sanitize, False),
    "scope_sanitize_start": (_ffi.SCOPE_START_SANITIZE, event_sanitize, False),
    "scope_sanitize_end": (_ffi.SCOPE_END_SANITIZE, event_sanitize, False),
    "event_metadata_injector": (_ffi.METADATA_INJECTOR, metadata_injector, False),
}


def register_kind(owner: Any, key: str, name: str, priority: Any, break_chain: Any, fn: Any) -> None:
    kind, adapt, has_break = KINDS[key]
    flags = 0
    if has_break:
        flags = _ffi.BREAK_CHAIN if check_bool(break_chain) else 0
    register(owner, kind, name, priority, flags, adapt(fn))


def deregister_kind(owner: Any, key: str, name: str) -> bool:
    kind = KINDS[key][0]
    return deregister(owner, kind, name)


def inspect_awaitable(v: Any) -> bool:
    return inspect.isawaitable(v)
