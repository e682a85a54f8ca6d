# SPDX-License-Identifier: Apache-2.0
"""Managed and manual tool calls (docs/pipeline.md, "Managed tool call")."""

from __future__ import annotations

import asyncio
from ctypes import byref, c_void_p
from typing import Any, Callable

from . import _errors, _ffi, _json
from ._middleware import tool_result_from, tool_result_wire
from ._runtime import (
    cstr,
    CallState,
    run_managed,
    ScopeHandle,
    ToolHandle,
    arm_cancel,
    enter,
    managed_structs,
    lib,
    loop_or_raise,
    name_arg as _name_arg,
    no_result as _none,
    parent_arg,
    run_chain,
    runtime,
    stack_ptr,
)
from ._types import ToolAttributes, attributes_arg, timestamp_ns
from ._contexts import ToolExecutionResult

__all__ = ["execute", "call", "call_end", "conditional_execution", "request_intercepts"]

_encode = _json.encode


def _options(
    handle: Any, attributes: Any, data: Any, metadata: Any, tool_call_id: Any, timestamp: Any
) -> _ffi.ToolOptions:
    o = _ffi.ToolOptions(_ffi.TOOL_OPTIONS_VERSION, attributes_arg(attributes, ToolAttributes), parent_arg(handle))
    if data is not None:
        b = _encode(data)
        o.data, o.data_len = b, len(b)
    if metadata is not None:
        b = _encode(metadata)
        o.metadata, o.metadata_len = b, len(b)
    if tool_call_id is not None:
        if not isinstance(tool_call_id, str):
            raise TypeError(f"'{type(tool_call_id).__name__}' object is not an instance of 'str'")
        o.tool_call_id = cstr(tool_call_id)
    ts = timestamp_ns(timestamp)
    if ts is not None:
        o.has_timestamp, o.timestamp_ns = True, ts
    return o


class _ToolCall(CallState):
    """One managed tool call; calling it is the tool callback."""

    __slots__ = ("func", "args")

    def __call__(self, token: int, doc: bytes) -> int:
        self.args = _json.loads(doc)
        return run_managed(token, self._produce, tool_result_wire)

    def _produce(self) -> Any:
        return self.func(self.args)


def execute(
    name: str,
    args: Any,
    func: Callable[[Any], Any],
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    tool_call_id: str | None = None,
) -> "asyncio.Future[ToolExecutionResult[Any]]":
    """Runs a managed tool call; resolves to a ``ToolExecutionResult``."""
    loop = loop_or_raise()
    body = _encode(args)
    opts = None
    if (
        handle is not None
        or attributes is not None
        or data is not None
        or metadata is not None
        or tool_call_id is not None
    ):
        opts = byref(_options(handle, attributes, data, metadata, tool_call_id, None))
    fut = loop.create_future()
    state = _ToolCall(loop, fut, tool_result_from)
    state.func = func
    tool, done = managed_structs(state)
    out = c_void_p()
    with enter(state):
        rc = lib.nemo_relay_tool_execute(
            byref(out), runtime(), stack_ptr(), cstr(name), body, len(body), opts, tool, done
        )
    if rc != _ffi.OK:
        raise _errors.last_error(rc)
    if fut.done():
        lib.nemo_relay_call_free(out)
    else:
        arm_cancel(state, out.value)
    return fut


def call(
    name: str,
    args: Any,
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    tool_call_id: str | None = None,
    timestamp: Any = None,
) -> ToolHandle:
    """Starts a manual tool span."""
    body = _encode(args)
    o = _options(handle, attributes, data, metadata, tool_call_id, timestamp)
    out = c_void_p()
    _errors.check(
        lib.nemo_relay_tool_call(byref(out), runtime(), stack_ptr(), cstr(name), body, len(body), byref(o))
    )
    return ToolHandle(out.value)


def call_end(
    handle: ToolHandle,
    result: ToolExecutionResult[Any],
    *,
    data: Any = None,
    metadata: Any = None,
    timestamp: Any = None,
) -> None:
    """Ends a manual tool span (no status is added)."""
    if type(handle) is not ToolHandle:
        raise TypeError(f"'{type(handle).__name__}' object is not an instance of 'ToolHandle'")
    if not isinstance(result, ToolExecutionResult):
        raise TypeError(f"'{type(result).__name__}' object is not an instance of 'ToolExecutionResult'")
    body = tool_result_wire(result)
    o = _options(None, None, data, metadata, None, timestamp)
    _errors.check(lib.nemo_relay_tool_call_end(runtime(), stack_ptr(), handle._handle(), body, len(body), byref(o)))


# ---- chain helpers (docs/pipeline.md, "Chain helpers"; docs/python.md, "Dual mode") -----------

_conditional = lib.nemo_relay_tool_conditional_execution
_intercepts = lib.nemo_relay_tool_request_intercepts


def conditional_execution(name: str, args: Any) -> Any:
    """Runs the tool conditional guardrails (global and scope-local) for tool ``name``."""
    n, body = _name_arg(name), _encode(args)
    rt, stack = runtime(), stack_ptr()
    return run_chain(lambda done: _conditional(rt, stack, n, body, len(body), done), _none)


def request_intercepts(name: str, args: Any) -> Any:
    """Runs the tool request-intercept chain for tool ``name``; returns the transformed args."""
    n, body = _name_arg(name), _encode(args)
    rt, stack = runtime(), stack_ptr()
    return run_chain(lambda done: _intercepts(rt, stack, n, body, len(body), done), _json.loads)
