# SPDX-License-Identifier: Apache-2.0
"""Operational logging (docs/logging.md): the library applies the environment's configuration when
the package is imported (``NEMO_RELAY_LOG``, ``NEMO_RELAY_LOG_STDERR``, ``NEMO_RELAY_LOG_STDERR_FORMAT``,
``NEMO_RELAY_LOG_CONFIG_PATH``), as the reference does, and flushes its file sinks at exit."""

from __future__ import annotations

import atexit
from typing import Any

from . import _errors, _ffi, _json

lib = _ffi.lib


def initialize() -> None:
    """Applies the environment's configuration; raises ``RuntimeError`` (InvalidArgumentError) with
    the reference's text when a value is invalid."""
    _errors.check(lib.nemo_relay_logging_init())


def shutdown() -> None:
    lib.nemo_relay_logging_shutdown()


def _str(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"'{type(value).__name__}' object is not an instance of 'str'")
    return value.encode("utf-8", "surrogatepass")


def log(level: str, message: str, *, target: str = "", fields: Any = None) -> None:
    """Emit a structured operational record through Relay."""
    lvl, msg, tgt = _str(level), _str(message), _str(target)
    if fields is not None and not isinstance(fields, dict):
        raise TypeError("log fields must be an object")
    body = _json.dumps(_json.convert(fields)) if fields is not None else None
    full = b"nemo_relay.python" + (b"." + tgt if tgt else b"")
    _errors.check(lib.nemo_relay_log_emit(lvl, full, None, msg, body, len(body) if body is not None else 0))


def trace(message: str, *, target: str = "", fields: Any = None) -> None:
    return log("trace", message, target=target, fields=fields)


def debug(message: str, *, target: str = "", fields: Any = None) -> None:
    return log("debug", message, target=target, fields=fields)


def info(message: str, *, target: str = "", fields: Any = None) -> None:
    return log("info", message, target=target, fields=fields)


def warn(message: str, *, target: str = "", fields: Any = None) -> None:
    return log("warn", message, target=target, fields=fields)


def error(message: str, *, target: str = "", fields: Any = None) -> None:
    return log("error", message, target=target, fields=fields)


initialize()
atexit.register(shutdown)
