# SPDX-License-Identifier: Apache-2.0
"""Relay propagation across processes and W3C trace context (``PropagationContext`` and the captures).

A ``PropagationContext`` is an immutable value holding the library's canonical form of the context;
every check and every normalisation happens in the library (``nemo_relay_propagation_normalize``,
``nemo_relay_propagation_parse``), so Python and the other bindings agree byte for byte.

Inside a managed call's provider, tool function or execution intercept the captures name the call as
their parent, also after an ``await``: the callback's context holds its token (``_runtime.call_token``)
and the library answers which call the token belongs to.
"""

from __future__ import annotations

import operator
from ctypes import byref, c_size_t, c_void_p
from typing import Any, NoReturn

from . import _errors, _ffi, _json
from ._runtime import ScopeStack, call_token, current_stack, lib

_OK = _ffi.OK
_U16_MAX = 0xFFFF


def _type_name(value: Any) -> str:
    return "'None'" if value is None else f"'{type(value).__name__}' object"


def _str_arg(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{_type_name(value)} is not an instance of 'str'")
    return value


def _opt_str_arg(value: Any) -> str | None:
    return None if value is None else _str_arg(value)


def _raise_value_error(rc: int) -> NoReturn:
    raise ValueError(_errors.last_error(rc).args[0]) from None


def _call_out(fn: Any, *args: Any) -> tuple[int, bytes]:
    """Calls an export that writes ``char **out, size_t *out_len`` first; returns (status, bytes)."""
    out, n = c_void_p(), c_size_t()
    rc = fn(byref(out), byref(n), *args)
    if rc != _OK:
        return rc, b""
    return rc, _ffi.take_string(out, n)


class PropagationContext:
    """Transport-neutral Relay causal context (a parent, optionally a root and a W3C parent).

    ``PropagationContext(parent_uuid, root_uuid=None, version=1, traceparent=None, tracestate=None)``
    validates like the reference: a malformed or all-zero uuid or a version other than 1 raises
    ``ValueError``; an invalid ``traceparent``/``tracestate`` is dropped silently. Instances are
    immutable; equality is identity, as in the reference.
    """

    __slots__ = ("_json", "_parent_uuid", "_root_uuid", "_traceparent", "_tracestate", "_version")

    def __init__(
        self,
        parent_uuid: str,
        root_uuid: str | None = None,
        version: int = 1,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {"parent_uuid": _str_arg(parent_uuid), "root_uuid": _opt_str_arg(root_uuid)}
        v = operator.index(version)
        if v < 0 or v > _U16_MAX:
            raise OverflowError("out of range integral type conversion attempted")
        fields["version"] = v
        fields["traceparent"] = _opt_str_arg(traceparent)
        fields["tracestate"] = _opt_str_arg(tracestate)
        doc = _json.dumps(fields)
        rc, canonical = _call_out(lib.nemo_relay_propagation_normalize, doc, len(doc))
        if rc != _OK:
            _raise_value_error(rc)
        self._load(canonical)

    @classmethod
    def _from_canonical(cls, canonical: bytes) -> PropagationContext:
        obj = cls.__new__(cls)
        obj._load(canonical)
        return obj

    def _load(self, canonical: bytes) -> None:
        d = _json.loads(canonical)
        self._json = canonical.decode()
        self._version = d["version"]
        self._root_uuid = d.get("root_uuid")
        self._parent_uuid = d["parent_uuid"]
        self._traceparent = d.get("traceparent")
        self._tracestate = d.get("tracestate")

    @property
    def version(self) -> int:
        return self._version

    @property
    def root_uuid(self) -> str | None:
        return self._root_uuid

    @property
    def parent_uuid(self) -> str:
        return self._parent_uuid

    @property
    def traceparent(self) -> str | None:
        return self._traceparent

    @property
    def tracestate(self) -> str | None:
        return self._tracestate

    def to_json(self) -> str:
        """Serialize this context to the Relay JSON wire format."""
        return self._json

    def to_traceparent(self) -> str:
        """Convert this context to a W3C traceparent value (a rootless context needs a carried one)."""
        doc = self._json.encode()
        rc, out = _call_out(lib.nemo_relay_propagation_to_traceparent, doc, len(doc))
        if rc != _OK:
            _raise_value_error(rc)
        return out.decode()

    @staticmethod
    def from_json(value: str) -> PropagationContext:
        """Deserialize and validate a Relay JSON wire context."""
        doc = _str_arg(value).encode()
        rc, canonical = _call_out(lib.nemo_relay_propagation_parse, doc, len(doc))
        if rc != _OK:
            _raise_value_error(rc)
        return PropagationContext._from_canonical(canonical)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("cannot pickle 'PropagationContext' object")


# ---- captures ----------------------------------------------------------------------------------


def _capture(mode: int, root: bytes | None) -> tuple[int, bytes]:
    """Captures on the current stack, naming the managed call of this context (if any) as the parent."""
    stack = current_stack()._handle()
    parent = _call_parent()
    try:
        if mode < 0:
            return _call_out(lib.nemo_relay_traceparent_capture, stack, parent)
        return _call_out(lib.nemo_relay_propagation_capture, stack, parent, mode, root)
    finally:
        if parent:
            lib.nemo_relay_scope_free(parent)


def _call_parent() -> int | None:
    """The handle of the managed call whose callback runs in this context, or None."""
    token = call_token.get()
    if token is None:
        return None
    out = c_void_p()
    if lib.nemo_relay_token_scope(byref(out), token) != _OK:
        return None  # the call answered already: the stack's top is the parent again
    return out.value


def _context_or_raise(rc: int, out: bytes) -> PropagationContext:
    if rc != _OK:
        raise _errors.last_error(rc)
    return PropagationContext._from_canonical(out)


def capture_propagation_context() -> PropagationContext:
    """Capture the current Relay causal parent (and its root) for application-managed transport."""
    return _context_or_raise(*_capture(_ffi.PROPAGATION_ROOTED, None))


def capture_rootless_propagation_context() -> PropagationContext:
    """Capture the current causal parent without a propagation root (the receiver starts a new trace)."""
    return _context_or_raise(*_capture(_ffi.PROPAGATION_ROOTLESS, None))


def capture_propagation_context_with_root(root_uuid: str | None) -> PropagationContext:
    """Capture the current parent with an application-chosen root (``None``: no root)."""
    root = _opt_str_arg(root_uuid)
    rc, out = _capture(_ffi.PROPAGATION_WITH_ROOT, None if root is None else root.encode())
    if rc != _OK:
        err = _errors.last_error(rc)
        message = err.args[0]
        if rc == _ffi.E_INVALID_ARGUMENT and not message.startswith("invalid argument: "):
            raise ValueError(message)  # a malformed uuid, as the reference's argument conversion reports it
        raise err
    return PropagationContext._from_canonical(out)


def capture_traceparent() -> str:
    """Capture the current Relay context as a W3C ``traceparent`` value."""
    rc, out = _capture(-1, None)
    if rc != _OK:
        raise _errors.last_error(rc)
    return out.decode()


def create_scope_stack_from_propagation(context: PropagationContext) -> ScopeStack:
    """Create an isolated stack that continues a received context (install it with ``use_scope_stack``)."""
    if not isinstance(context, PropagationContext):
        raise TypeError(f"{_type_name(context)} is not an instance of 'PropagationContext'")
    doc = context.to_json().encode()
    out = c_void_p()
    _errors.check(lib.nemo_relay_stack_from_propagation(byref(out), doc, len(doc)))
    return ScopeStack(out.value, None)
