# SPDX-License-Identifier: Apache-2.0
"""Maps C status codes to exceptions through one table.

Every class derives from ``NemoRelayError``, itself a ``RuntimeError``, so code written against the
reference package (which raises ``RuntimeError("<prefix>: ...")``) keeps working unchanged.
"""

from __future__ import annotations

from . import _ffi


class NemoRelayError(RuntimeError):
    """A failure reported by libnemorelay; ``status`` is the C status code."""

    status: int = _ffi.E_INTERNAL

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgumentError(NemoRelayError):
    status = _ffi.E_INVALID_ARGUMENT


class NotFoundError(NemoRelayError):
    status = _ffi.E_NOT_FOUND


class AlreadyExistsError(NemoRelayError):
    status = _ffi.E_ALREADY_EXISTS


class GuardrailRejectedError(NemoRelayError):
    status = _ffi.E_GUARDRAIL_REJECTED


class InternalError(NemoRelayError):
    status = _ffi.E_INTERNAL


class MisuseError(NemoRelayError):
    status = _ffi.E_MISUSE


class CallbackError(NemoRelayError):
    """A user callback failed and its exception object is not available (e.g. it ran elsewhere)."""

    status = _ffi.E_CALLBACK


class CallCancelledError(NemoRelayError):
    status = _ffi.E_CANCELLED


class InvalidJSONError(NemoRelayError):
    status = _ffi.E_INVALID_JSON


class VersionError(NemoRelayError):
    status = _ffi.E_VERSION


class FlushTimeoutError(NemoRelayError):
    status = _ffi.E_TIMEOUT


class ScopeStackEmptyError(NemoRelayError):
    status = _ffi.E_SCOPE_STACK_EMPTY


ERRORS: dict[int, type[NemoRelayError]] = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        GuardrailRejectedError,
        InternalError,
        MisuseError,
        CallbackError,
        CallCancelledError,
        InvalidJSONError,
        VersionError,
        FlushTimeoutError,
        ScopeStackEmptyError,
    )
}


def error_for(status: int, message: str) -> NemoRelayError:
    cls = ERRORS.get(status)
    if cls is None:
        return NemoRelayError(message, status)
    return cls(message)


def last_error(status: int) -> NemoRelayError:
    """The exception for ``status``, with the thread's last-error text (read at once)."""
    raw = _ffi.lib.nemo_relay_last_error_message()
    message = raw.decode("utf-8", "replace") if raw else ""
    if not message:
        message = (_ffi.lib.nemo_relay_status_str(status) or b"").decode()
    return error_for(status, message)


def check(status: int) -> None:
    if status != _ffi.OK:
        raise last_error(status)
