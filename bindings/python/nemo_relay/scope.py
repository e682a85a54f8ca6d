# SPDX-License-Identifier: Apache-2.0
"""Scopes and marks on the current context's stack (docs/scopes.md)."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from ctypes import byref, c_void_p
from typing import Any, Iterator

from . import _errors, _ffi, _json
from ._runtime import ScopeHandle, cstr, lib, parent_arg, runtime, stack_ptr
from ._types import LogSeverity, ScopeAttributes, ScopeType, attributes_arg, scope_type_arg, severity_arg, timestamp_ns

__all__ = ["get_handle", "push", "pop", "event", "scope", "metric"]

_new_handle = object.__new__

_scope_begin = lib.nemo_relay_scope_begin
_scope_end = lib.nemo_relay_scope_end


def _set_json(opts: Any, field: str, value: Any) -> None:
    if value is not None:
        b = _json.encode(value)
        setattr(opts, field, b)
        setattr(opts, field + "_len", len(b))


def get_handle() -> ScopeHandle:
    """The scope on top of the current stack (the root when nothing is pushed)."""
    out = c_void_p()
    _errors.check(lib.nemo_relay_scope_current(byref(out), stack_ptr()))
    return ScopeHandle(out.value)


def push(
    name: str,
    scope_type: ScopeType,
    *,
    handle: ScopeHandle | None = None,
    attributes: ScopeAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    input: Any = None,
    timestamp: Any = None,
) -> ScopeHandle:
    # A ScopeType is an int: ctypes takes it as it is.
    st = scope_type if type(scope_type) is ScopeType else scope_type_arg(scope_type)
    opts: Any = None
    if (
        handle is not None
        or attributes is not None
        or data is not None
        or metadata is not None
        or input is not None
        or timestamp is not None
    ):
        o = _ffi.ScopeOptions(
            _ffi.SCOPE_OPTIONS_VERSION, attributes_arg(attributes, ScopeAttributes), parent_arg(handle)
        )
        _set_json(o, "data", data)
        _set_json(o, "metadata", metadata)
        _set_json(o, "payload", input)
        ts = timestamp_ns(timestamp)
        if ts is not None:
            o.has_timestamp, o.timestamp_ns = True, ts
        opts = byref(o)
    out = c_void_p()
    rc = _scope_begin(byref(out), runtime(), stack_ptr(), cstr(name), st, opts)
    if rc:
        raise _errors.last_error(rc)
    h = _new_handle(ScopeHandle)
    h._ptr, h._parent, h._info = out.value, None, None
    return h


def pop(handle: ScopeHandle, *, output: Any = None, metadata: Any = None, timestamp: Any = None) -> None:
    if type(handle) is not ScopeHandle:
        raise TypeError(f"'{type(handle).__name__}' object is not an instance of 'ScopeHandle'")
    opts: Any = None
    if output is not None or metadata is not None or timestamp is not None:
        o = _ffi.ScopeOptions(_ffi.SCOPE_OPTIONS_VERSION)
        _set_json(o, "payload", output)
        _set_json(o, "metadata", metadata)
        ts = timestamp_ns(timestamp)
        if ts is not None:
            o.has_timestamp, o.timestamp_ns = True, ts
        opts = byref(o)
    p = handle._ptr
    rc = _scope_end(runtime(), stack_ptr(), p if p is not None else handle._handle(), opts)
    if rc:
        raise _errors.last_error(rc)


def event(
    name: str,
    *,
    handle: ScopeHandle | None = None,
    data: Any = None,
    data_schema: Any = None,
    metadata: Any = None,
    severity: LogSeverity | None = None,
    timestamp: Any = None,
) -> None:
    sev = severity_arg(severity)
    opts = _ffi.MarkOptions(_ffi.MARK_OPTIONS_VERSION, sev.wire if sev else _ffi.SEVERITY_NONE, parent_arg(handle))
    _set_json(opts, "data", data)
    _set_json(opts, "data_schema", data_schema)
    _set_json(opts, "metadata", metadata)
    ts = timestamp_ns(timestamp)
    if ts is not None:
        opts.has_timestamp, opts.timestamp_ns = True, ts
    _errors.check(lib.nemo_relay_mark(runtime(), stack_ptr(), cstr(name), byref(opts)))


@contextmanager
def scope(
    name: str,
    scope_type: ScopeType,
    *,
    handle: ScopeHandle | None = None,
    attributes: ScopeAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    input: Any = None,
    timestamp: Any = None,
    end_timestamp: Any = None,
) -> Iterator[ScopeHandle]:
    """Pushes a scope for the block and always pops it, recording OK / ERROR / UNSET status."""
    h = push(
        name,
        scope_type,
        handle=handle,
        attributes=attributes,
        data=data,
        metadata=metadata,
        input=input,
        timestamp=timestamp,
    )
    status: dict[str, Any] = {"otel.status_code": "OK"}
    try:
        yield h
    except asyncio.CancelledError as e:
        status = {"otel.status_code": "ERROR", "otel.status_description": str(e) or "cancelled"}
        raise
    except Exception as e:
        status = {"otel.status_code": "ERROR", "otel.status_description": str(e)}
        raise
    except BaseException:
        status = {"otel.status_code": "UNSET"}
        raise
    finally:
        pop(h, metadata=status, timestamp=end_timestamp)


def metric(
    name: str,
    measurements: Any,
    *,
    handle: ScopeHandle | None = None,
    metadata: Any = None,
    timestamp: Any = None,
) -> None:
    """Emits an atomic group of metric measurements: a mark with the metric data schema."""
    from ._metrics import METRIC_SCHEMA, measurements_json

    data = {"measurements": measurements_json(measurements)}
    event(name, handle=handle, data=data, data_schema=METRIC_SCHEMA, metadata=metadata, timestamp=timestamp)
