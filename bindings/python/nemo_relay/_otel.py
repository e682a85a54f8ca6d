# SPDX-License-Identifier: Apache-2.0
"""OpenTelemetry trace export (docs/otel.md), mirroring the reference's ``OpenTelemetryConfig``,
``OpenTelemetryFileSinkConfig``, ``OpenTelemetrySubscriber`` and ``OpenTelemetryRuntimeDiagnostic(s)``.

The projections, batching and transport run in the core; these classes hold the configuration, check
the values the reference checks in its binding layer (raising the same ``ValueError`` messages), and own
the exporter handle.
"""

from __future__ import annotations

from typing import Any

from . import _errors
from ._exporters import (
    FLUSH_TIMEOUT_NS,
    _Exporter,
    _millis,
    _need_str,
    _new_exporter,
    _str_map,
    _type_name,
)
from ._runtime import lib

__all__ = [
    "OpenTelemetryConfig",
    "OpenTelemetryFileSinkConfig",
    "OpenTelemetrySubscriber",
    "OpenTelemetryRuntimeDiagnostic",
    "OpenTelemetryRuntimeDiagnostics",
]

_TYPES = ("full", "gen_ai", "openinference")


def _check_type(value: Any) -> str:
    if value not in _TYPES:
        raise ValueError(f"type must be 'full', 'gen_ai', or 'openinference', got \"{value}\"")
    return value


def _check_mappings(mappings: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out = []
    for m in mappings:
        if not isinstance(m, dict) or "key" not in m or "alias" not in m:
            raise ValueError("attribute_mappings must be a list of mappings: missing field `alias`")
        alias = m["alias"]
        if not str(alias).strip():
            raise ValueError("attribute mapping alias must not be blank")
        if alias in seen:
            raise ValueError(f'attribute mapping alias "{alias}" is duplicated')
        seen.add(alias)
        out.append({"key": _need_str(m["key"]), "alias": _need_str(alias)})
    return out


def _check_prefixes(prefixes: list[str]) -> list[str]:
    seen: set[str] = set()
    for p in prefixes:
        if not _need_str(p).strip():
            raise ValueError("metadata promotion prefix must not be blank")
        if p in seen:
            raise ValueError(f'metadata promotion prefix "{p}" is duplicated')
        seen.add(p)
    return list(prefixes)


class _CommonConfig:
    """The fields both configurations share, with the reference's defaults."""

    def _init_common(self, otel_type: Any) -> None:
        self.type = otel_type
        self.service_name = "unknown_service"
        self.service_namespace: str | None = None
        self.service_version: str | None = None
        self.instrumentation_scope = "opentelemetry"
        self.completed_span_context_ttl_millis = 60_000
        self.mark_projection = "inherit"
        self.mark_exclude_names = ["llm.chunk"]
        self.promote_metadata_prefixes: list[str] = []
        self.promote_resource_metadata_prefixes: list[str] = []
        self._resource_attributes: dict[str, str] = {}
        self._attribute_mappings: list[dict[str, str]] = []

    @property
    def resource_attributes(self) -> dict[str, str]:
        """Additional resource attributes (a copy)."""
        return dict(self._resource_attributes)

    @resource_attributes.setter
    def resource_attributes(self, value: dict[str, str]) -> None:
        self._resource_attributes = _str_map(value)

    def set_resource_attribute(self, key: str, value: str) -> None:
        self._resource_attributes[_need_str(key)] = _need_str(value)

    @property
    def attribute_mappings(self) -> list[dict[str, str]]:
        """``[{"key": ..., "alias": ...}]``: a typed copy of a projected attribute under another name."""
        return [dict(m) for m in self._attribute_mappings]

    @attribute_mappings.setter
    def attribute_mappings(self, value: list[dict[str, str]]) -> None:
        if not isinstance(value, list):
            raise TypeError(f"{_type_name(value)} is not an instance of 'list'")
        self._attribute_mappings = [dict(m) for m in value]

    def _common_json(self) -> dict[str, Any]:
        if self.mark_projection not in ("inherit", "event", "tool"):
            raise ValueError(f"unknown variant `{self.mark_projection}`, expected one of `inherit`, `event`, `tool`")
        out: dict[str, Any] = {
            "type": _check_type(self.type),
            "service_name": _need_str(self.service_name),
            "instrumentation_scope": _need_str(self.instrumentation_scope),
            "completed_span_context_ttl_millis": _millis(self.completed_span_context_ttl_millis),
            "mark_projection": self.mark_projection,
            "mark_exclude_names": [_need_str(n) for n in self.mark_exclude_names],
            "promote_metadata_prefixes": _check_prefixes(self.promote_metadata_prefixes),
            "promote_resource_metadata_prefixes": [_need_str(p) for p in self.promote_resource_metadata_prefixes],
            "resource_attributes": self._resource_attributes,
            "attribute_mappings": _check_mappings(self._attribute_mappings),
        }
        if self.service_namespace is not None:
            out["service_namespace"] = _need_str(self.service_namespace)
        if self.service_version is not None:
            out["service_version"] = _need_str(self.service_version)
        return out


class OpenTelemetryConfig(_CommonConfig):
    """Mutable configuration of an ``OpenTelemetrySubscriber`` sending OTLP/HTTP to ``endpoint``.

    ``transport`` is ``"http_binary"`` (OTLP protobuf, the default) or ``"http_json"`` (OTLP/JSON, ours);
    the reference's ``"grpc"`` is not supported by this build. Values are checked when the subscriber
    is built.
    """

    def __init__(self, otel_type: str, endpoint: str) -> None:
        self._init_common(otel_type)
        self.endpoint = endpoint
        self.transport = "http_binary"
        #: ``"none"`` (default) or ``"gzip"`` (ours: request bodies sent with ``Content-Encoding: gzip``).
        self.compression = "none"
        self._timeout_millis = 3000
        self._headers: dict[str, str] = {}
        self._header_env: dict[str, str] = {}

    @property
    def timeout_millis(self) -> int:
        return self._timeout_millis

    @timeout_millis.setter
    def timeout_millis(self, value: int) -> None:
        self._timeout_millis = _millis(value)

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = _str_map(value)

    @property
    def header_env(self) -> dict[str, str]:
        return dict(self._header_env)

    @header_env.setter
    def header_env(self, value: dict[str, str]) -> None:
        self._header_env = _str_map(value)

    def set_header(self, key: str, value: str) -> None:
        self._headers[_need_str(key)] = _need_str(value)

    def set_header_from_env(self, key: str, variable: str) -> None:
        self._header_env[_need_str(key)] = _need_str(variable)

    def _to_json(self) -> dict[str, Any]:
        out = self._common_json()
        if self.transport not in ("http_binary", "http_json", "grpc"):
            raise ValueError(f"transport must be 'http_binary' or 'grpc', got \"{self.transport}\"")
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise ValueError("endpoint is required and must be nonblank")
        seen: dict[str, str] = {}
        for name in self._headers:
            low = name.lower()
            if low in seen:
                raise RuntimeError(f'invalid OTLP header "{seen[low]}": header names must be unique ignoring ASCII case')
            seen[low] = name
        if self.compression not in ("none", "gzip"):
            raise ValueError(f"compression must be 'none' or 'gzip', got \"{self.compression}\"")
        out.update(
            endpoint=self.endpoint,
            transport=self.transport,
            compression=self.compression,
            timeout_millis=min(self._timeout_millis, 86_400_000),
            headers=self._headers,
            header_env=self._header_env,
        )
        return out

    def __repr__(self) -> str:
        return f'<OpenTelemetryConfig type="{self.type}" endpoint="{self.endpoint}">'


class OpenTelemetryFileSinkConfig(_CommonConfig):
    """Configuration of an ``OpenTelemetrySubscriber`` writing OTLP to a local file: one OTLP/JSON request
    per line (``format="json_lines"``, what a collector's file receiver reads) or length-prefixed protobuf
    (``"proto"``)."""

    def __init__(
        self,
        otel_type: str,
        output_directory: str,
        filename: str | None = None,
        format: str = "json_lines",  # noqa: A002 - the reference's parameter name
        mode: str = "overwrite",
    ) -> None:
        self._init_common(otel_type)
        self.output_directory = output_directory
        self.filename = filename
        self.format = format
        self.mode = mode

    def _to_json(self) -> dict[str, Any]:
        out = self._common_json()
        if self.filename is not None and (
            not self.filename or "/" in self.filename or self.filename in (".", "..")
        ):
            raise ValueError("filename must be a single path component")
        if self.format not in ("json_lines", "proto"):
            raise ValueError(f"format must be 'json_lines' or 'proto', got \"{self.format}\"")
        if self.mode not in ("append", "overwrite"):
            raise ValueError(f"mode must be 'append' or 'overwrite', got \"{self.mode}\"")
        out.update(output_directory=_need_str(self.output_directory), format=self.format, mode=self.mode)
        if self.filename is not None:
            out["filename"] = self.filename
        return out

    def __repr__(self) -> str:
        return f'<OpenTelemetryFileSinkConfig type="{self.type}" output_directory="{self.output_directory}">'


class OpenTelemetryRuntimeDiagnostic:
    """One runtime diagnostic: a ``code`` (``otel.spans_dropped``, ``otel.traces_export_failed``, ...),
    its ``message`` and how many times it happened."""

    __slots__ = ("_code", "_message", "_count")

    def __init__(self, code: str, message: str, count: int) -> None:
        self._code, self._message, self._count = code, message, count

    @property
    def code(self) -> str:
        return self._code

    @property
    def message(self) -> str:
        return self._message

    @property
    def count(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"<OpenTelemetryRuntimeDiagnostic code={self._code!r} count={self._count}>"


class OpenTelemetryRuntimeDiagnostics:
    """A snapshot of a subscriber's runtime diagnostics."""

    def __init__(self, entries: list[OpenTelemetryRuntimeDiagnostic]) -> None:
        self._entries = entries

    @property
    def entries(self) -> list[OpenTelemetryRuntimeDiagnostic]:
        return list(self._entries)

    def get(self, code: str) -> OpenTelemetryRuntimeDiagnostic | None:
        return next((e for e in self._entries if e.code == code), None)

    def __repr__(self) -> str:
        return f"<OpenTelemetryRuntimeDiagnostics {len(self._entries)} entries>"


class OpenTelemetrySubscriber(_Exporter):
    """Exports events as OpenTelemetry spans: register it under a subscriber name, then ``force_flush()``
    and ``shutdown()``; export failures raise from those two calls, never from the code that emitted."""

    def __init__(self, config: OpenTelemetryConfig | OpenTelemetryFileSinkConfig) -> None:
        if not isinstance(config, (OpenTelemetryConfig, OpenTelemetryFileSinkConfig)):
            raise TypeError(f"{_type_name(config)} is not an instance of 'OpenTelemetryConfig'")
        super().__init__(_new_exporter(lib.nemo_relay_otel_exporter_new, config._to_json()))

    def force_flush(self) -> None:
        """Waits for queued events, then exports every finished span; raises if an export failed."""
        _errors.check(lib.nemo_relay_exporter_flush(self._h, FLUSH_TIMEOUT_NS))

    def shutdown(self) -> None:
        """Flushes, removes the registrations and stops the exporter; a second call is harmless."""
        _errors.check(lib.nemo_relay_exporter_shutdown(self._h, FLUSH_TIMEOUT_NS))

    def runtime_diagnostics(self) -> OpenTelemetryRuntimeDiagnostics:
        """Exporter and projection diagnostics: dropped spans, failed exports, unpromotable metadata..."""
        raw = self.diagnostics().get("runtime_diagnostics", [])
        return OpenTelemetryRuntimeDiagnostics(
            [OpenTelemetryRuntimeDiagnostic(d["code"], d["message"], int(d["count"])) for d in raw]
        )

    def __repr__(self) -> str:
        return "<OpenTelemetrySubscriber>"

