# SPDX-License-Identifier: Apache-2.0
"""ATOF JSON Lines and ATIF trajectory exporters (docs/exporters.md), mirroring the reference's
``AtofExporter``, ``AtofExporterConfig``, ``AtofExporterMode``, ``AtofStreamSinkConfig`` and
``AtifExporter``: the same names, defaults, type checks and error messages.

Everything runs in the core: these classes only check and build the configuration JSON, hold the
exporter handle and turn statuses into exceptions.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from ctypes import byref, c_bool, c_size_t, c_void_p
from typing import Any, Callable, ClassVar

from . import _errors, _ffi
from ._json import dumps
from ._runtime import cstr, lib, runtime

__all__ = ["AtofExporterMode", "AtofStreamSinkConfig", "AtofExporterConfig", "AtofExporter", "AtifExporter"]

log = logging.getLogger("nemo_relay")

#: How long force_flush, shutdown and export wait for queued deliveries (file sinks, ATIF).
FLUSH_TIMEOUT_NS = 30_000_000_000


class AtofExporterMode:
    """File write mode for ``AtofExporter``: ``Append`` (default) or ``Overwrite``."""

    Append: ClassVar["AtofExporterMode"]
    Overwrite: ClassVar["AtofExporterMode"]

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if value not in ("append", "overwrite"):
            raise ValueError("mode must be 'append' or 'overwrite'")
        self._value = value

    @property
    def value(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtofExporterMode) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"AtofExporterMode.{self._value.capitalize()}"


AtofExporterMode.Append = AtofExporterMode("append")
AtofExporterMode.Overwrite = AtofExporterMode("overwrite")


def _default_filename() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("nemo-relay-events-%Y-%m-%d-%H.%M.%S.jsonl")


def _type_name(value: Any) -> str:
    return "'None'" if value is None else f"'{type(value).__name__}' object"


def _need_str(value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{_type_name(value)} is not an instance of 'str'")
    return value


def _str_map(value: Any) -> dict[str, str]:
    """A copied dict of str to str (``None`` is empty), type-checked as the reference does."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{_type_name(value)} is not an instance of 'dict'")
    return {_need_str(k): _need_str(v) for k, v in value.items()}


def _millis(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if value >= 1 << 64:
        raise OverflowError("int too big to convert")
    return value


class AtofStreamSinkConfig:
    """One stream sink for raw ATOF events (the reference's plugin configuration shape)."""

    def __init__(
        self,
        url: str,
        *,
        transport: str = "http_post",
        headers: dict[str, str] | None = None,
        header_env: dict[str, str] | None = None,
        timeout_millis: int = 3000,
        field_name_policy: str = "preserve",
    ) -> None:
        self.url = _need_str(url)
        self.transport = _need_str(transport)
        self.headers = _str_map(headers)
        self.header_env = _str_map(header_env)
        self.timeout_millis = _millis(timeout_millis)
        self.field_name_policy = _need_str(field_name_policy)

    def __repr__(self) -> str:
        return f'<AtofStreamSinkConfig transport="{self.transport}" url="{self.url}">'


def _str_attr(name: str, doc: str) -> property:
    attr = "_" + name

    def get(self: Any) -> str:
        return getattr(self, attr)

    def set_(self: Any, value: Any) -> None:
        setattr(self, attr, _need_str(value))

    return property(get, set_, doc=doc)


class AtofExporterConfig:
    """The manual ATOF exporter's configuration: mutable, type-checked attributes with the reference's
    defaults. Their values are validated when ``AtofExporter(config)`` is built."""

    __slots__ = (
        "_sink_type",
        "_output_directory",
        "_mode",
        "_filename",
        "_url",
        "_transport",
        "_headers",
        "_header_env",
        "_timeout_millis",
        "_field_name_policy",
    )

    sink_type = _str_attr("sink_type", "'file' (default) or 'stream'.")
    output_directory = _str_attr("output_directory", "The file sink's directory (default: the current directory).")
    filename = _str_attr("filename", "The file name (default nemo-relay-events-<UTC time>.jsonl).")
    url = _str_attr("url", "The stream sink's endpoint (http://host[:port]/path).")
    transport = _str_attr("transport", "'http_post' (default) or 'ndjson'.")
    field_name_policy = _str_attr("field_name_policy", "'preserve' (default) or 'replace_dots'.")

    def __init__(self) -> None:
        self._sink_type = "file"
        self._output_directory = os.getcwd()
        self._mode = AtofExporterMode.Append
        self._filename = _default_filename()
        self._url = ""
        self._transport = "http_post"
        self._headers: dict[str, str] = {}
        self._header_env: dict[str, str] = {}
        self._timeout_millis = 3000
        self._field_name_policy = "preserve"

    @property
    def mode(self) -> AtofExporterMode:
        """``AtofExporterMode.Append`` (default) or ``AtofExporterMode.Overwrite``."""
        return self._mode

    @mode.setter
    def mode(self, value: Any) -> None:
        if not isinstance(value, AtofExporterMode):
            raise TypeError(f"{_type_name(value)} is not an instance of 'AtofExporterMode'")
        self._mode = value

    @property
    def headers(self) -> dict[str, str]:
        """Extra request headers of a stream sink (a copy)."""
        return dict(self._headers)

    @headers.setter
    def headers(self, value: Any) -> None:
        self._headers = _str_map(value)

    @property
    def header_env(self) -> dict[str, str]:
        """Header name to environment variable, read when the exporter is built (a copy)."""
        return dict(self._header_env)

    @header_env.setter
    def header_env(self, value: Any) -> None:
        self._header_env = _str_map(value)

    @property
    def timeout_millis(self) -> int:
        """Per-request timeout of a stream sink (default 3000)."""
        return self._timeout_millis

    @timeout_millis.setter
    def timeout_millis(self, value: Any) -> None:
        self._timeout_millis = _millis(value)

    def _to_json(self) -> dict[str, Any]:
        """The core configuration; the value checks the reference makes in its binding layer."""
        if self._sink_type not in ("file", "stream"):
            raise ValueError("sink_type must be 'file' or 'stream'")
        if self._sink_type == "file":
            return {
                "sink_type": "file",
                "output_directory": self._output_directory,
                "filename": self._filename,
                "mode": self._mode.value,
            }
        if not self._url.strip():
            raise ValueError("stream sink requires url")
        if self._transport not in ("http_post", "websocket", "ndjson"):
            raise ValueError("endpoint transport must be 'http_post', 'websocket', or 'ndjson'")
        if self._field_name_policy not in ("preserve", "replace_dots"):
            raise ValueError("endpoint field_name_policy must be 'preserve' or 'replace_dots'")
        return {
            "sink_type": "stream",
            "url": self._url,
            "transport": self._transport,
            "headers": self._headers,
            "header_env": self._header_env,
            "timeout_millis": min(self._timeout_millis, 86_400_000),
            "field_name_policy": self._field_name_policy,
        }

    def __repr__(self) -> str:
        return f'<AtofExporterConfig sink_type="{self._sink_type}">'


def _new_exporter(ctor: Any, config: dict[str, Any]) -> int:
    body = dumps(config)
    opts = _ffi.ExporterOptions(_ffi.EXPORTER_OPTIONS_VERSION, body, len(body))
    out = c_void_p()
    _errors.check(ctor(byref(out), byref(opts)))
    return out.value or 0


def _take(call: Callable[[Any, Any], int]) -> bytes:
    ptr, n = c_void_p(), c_size_t()
    _errors.check(call(byref(ptr), byref(n)))
    return _ffi.take_string(ptr, n)


def _name(name: Any) -> bytes:
    return cstr(_need_str(name))


def _bounded(status: int, what: str) -> None:
    """A timeout is logged, not raised (as in the reference); any other failure raises."""
    if status == _ffi.E_TIMEOUT:
        log.warning("ATOF exporter %s: %s", what, _errors.last_error(status))
    elif status != _ffi.OK:
        raise _errors.last_error(status)


def _sorted_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The reference's ``export()`` dicts list their keys in sorted order."""
    return dict(sorted(pairs))


class _Exporter:
    """The handle and the subscriber-like calls both exporters share."""

    def __init__(self, handle: int) -> None:
        self._h = handle

    def register(self, name: str) -> None:
        """Registers the exporter as a global subscriber named ``name``."""
        _errors.check(lib.nemo_relay_exporter_register(self._h, runtime(), _name(name)))

    def deregister(self, name: str) -> bool:
        """Removes the global subscriber ``name`` (whoever registered it); True when one was removed."""
        removed = c_bool(False)
        _errors.check(lib.nemo_relay_exporter_deregister(byref(removed), self._h, runtime(), _name(name)))
        return removed.value

    def diagnostics(self) -> dict[str, Any]:
        """Counters: events written or sent, dropped (queue full), failed, retried, the last error..."""
        h = self._h
        return json.loads(_take(lambda p, n: lib.nemo_relay_exporter_diagnostics(p, n, h)))

    @property
    def dropped_events(self) -> int:
        """Events dropped because this exporter's queue was full."""
        return int(self.diagnostics().get("queue_dropped", 0))

    def __del__(self) -> None:
        # Releasing the handle keeps registrations' queued events flowing; it never waits.
        h, self._h = getattr(self, "_h", 0), 0
        if h:
            try:
                lib.nemo_relay_exporter_free(h)
            except Exception:  # noqa: BLE001 - interpreter shutdown: the library may be gone
                pass


class AtofExporter(_Exporter):
    """Writes every event as one JSON line (exactly ``event.to_json()``) to a file, or streams it."""

    def __init__(self, config: AtofExporterConfig) -> None:
        if not isinstance(config, AtofExporterConfig):
            raise TypeError(f"{_type_name(config)} is not an instance of 'AtofExporterConfig'")
        core = config._to_json()
        super().__init__(_new_exporter(lib.nemo_relay_atof_exporter_new, core))
        self._path: str | None = None
        self._timeout_ns = FLUSH_TIMEOUT_NS
        if core["sink_type"] == "stream":
            # Like the reference, a stream waits about one request timeout, then reports what is queued.
            self._timeout_ns = (core["timeout_millis"] + 2000) * 1_000_000
        else:
            h = self._h
            self._path = _take(lambda p, n: lib.nemo_relay_exporter_path(p, n, h)).decode()

    @property
    def path(self) -> str | None:
        """The JSONL output path, or None for a stream sink."""
        return self._path

    def force_flush(self) -> None:
        """Waits for queued delivery, then flushes the sink; raises if a write or a send failed (events
        were lost). A stream still draining when the wait ends is logged, not raised."""
        _bounded(lib.nemo_relay_exporter_flush(self._h, self._timeout_ns), "force_flush")

    def shutdown(self) -> None:
        """Flushes, removes the registrations and closes the sink; a second call is harmless."""
        _bounded(lib.nemo_relay_exporter_shutdown(self._h, self._timeout_ns), "shutdown")

    def __repr__(self) -> str:
        return "<AtofExporter>"


class AtifExporter(_Exporter):
    """Collects events and exports them as an ATIF v1.7 trajectory."""

    def __init__(
        self,
        session_id: str,
        agent_name: str,
        agent_version: str,
        *,
        model_name: str | None = None,
        tool_definitions: list[dict[str, Any]] | None = None,
        extra: Any = None,
    ) -> None:
        config: dict[str, Any] = {
            "session_id": _need_str(session_id),
            "agent_name": _need_str(agent_name),
            "agent_version": _need_str(agent_version),
        }
        if model_name is not None:
            config["model_name"] = _need_str(model_name)
        if tool_definitions is not None:
            if not isinstance(tool_definitions, list):
                raise TypeError(f"{_type_name(tool_definitions)} is not an instance of 'list'")
            config["tool_definitions"] = tool_definitions
        if extra is not None:
            config["extra"] = extra
        super().__init__(_new_exporter(lib.nemo_relay_atif_exporter_new, config))

    def export_json(self) -> str:
        """Waits for queued delivery, then returns the trajectory of every collected event as JSON."""
        h = self._h
        return _take(lambda p, n: lib.nemo_relay_atif_exporter_export(p, n, h, FLUSH_TIMEOUT_NS)).decode()

    def export(self) -> dict[str, Any]:
        """The trajectory as a dict: ``schema_version`` "ATIF-v1.7", ``session_id``, ``agent``, ``steps``..."""
        return json.loads(self.export_json(), object_pairs_hook=_sorted_dict)

    def clear(self) -> None:
        """Drops the collected events; the registration stays."""
        _errors.check(lib.nemo_relay_atif_exporter_clear(self._h))

    def __repr__(self) -> str:
        return "<AtifExporter>"
