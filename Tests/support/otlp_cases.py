# SPDX-License-Identifier: Apache-2.0
"""The OTLP encoder cases of ``Tests/vectors/otlp_encoder.json`` as opentelemetry-proto messages.

Shared by ``scripts/make_otlp_goldens.py`` (which writes the vector file) and
``Tests/support/otlp_decode_check.py`` (which decodes what the Swift encoder wrote). A case's
``resource`` and ``spans`` are plain JSON (the format is described in ``Tests/vectors/README.md``);
``request(case)`` turns them into the ``ExportTraceServiceRequest`` the encoder must produce.

Needs ``opentelemetry-proto`` (PyPI), imported lazily so callers can report when it is missing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

ID_KEYS = ("traceId", "spanId", "parentSpanId")

# Above this size a case stores the length and FNV-1a hash of an encoding instead of its text.
INLINE_LIMIT = 64 * 1024


def text(s: Any) -> str:
    """A string of the case format: either a plain string or ``{"repeat": s, "times": n}``."""
    if isinstance(s, dict):
        return s["repeat"] * s["times"]
    return s


def fnv1a64(data: bytes) -> str:
    """The 64-bit FNV-1a hash of ``data`` as 16 lowercase hex digits."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def any_value(v: dict):
    from opentelemetry.proto.common.v1 import common_pb2 as c

    ((kind, x),) = v.items()
    if kind == "string":
        return c.AnyValue(string_value=text(x))
    if kind == "bool":
        return c.AnyValue(bool_value=x)
    if kind == "int":
        return c.AnyValue(int_value=int(x))
    if kind == "double":
        return c.AnyValue(double_value=float(x))
    if kind == "bytes":
        return c.AnyValue(bytes_value=bytes.fromhex(x))
    if kind == "array":
        out = c.AnyValue()
        out.array_value.SetInParent()
        out.array_value.values.extend(any_value(e) for e in x)
        return out
    if kind == "kvlist":
        out = c.AnyValue()
        out.kvlist_value.SetInParent()
        out.kvlist_value.values.extend(key_values(x))
        return out
    raise ValueError(f"unknown value kind {kind!r}")


def key_values(attrs: list) -> list:
    from opentelemetry.proto.common.v1 import common_pb2 as c

    return [c.KeyValue(key=text(a["key"]), value=any_value(a["value"])) for a in attrs]


def request(case: dict):
    """The ``ExportTraceServiceRequest`` a case's resource, scope and spans encode to."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
    from opentelemetry.proto.trace.v1 import trace_pb2 as t

    res = case["resource"]
    rs = t.ResourceSpans()
    # Resource, scope and status are always present, even when empty (as the SDKs write them).
    rs.resource.SetInParent()
    rs.resource.attributes.extend(key_values(res["attributes"]))
    ss = rs.scope_spans.add()
    ss.scope.SetInParent()
    ss.scope.name = text(res["scope_name"])
    ss.scope.version = text(res["scope_version"])
    for s in case["spans"]:
        span = ss.spans.add()
        span.trace_id = bytes.fromhex(s["trace_id"])
        span.span_id = bytes.fromhex(s["span_id"])
        span.trace_state = text(s["trace_state"])
        span.parent_span_id = bytes.fromhex(s["parent_span_id"])
        span.name = text(s["name"])
        span.kind = s["kind"]
        span.start_time_unix_nano = int(s["start_time_unix_nano"])
        span.end_time_unix_nano = int(s["end_time_unix_nano"])
        span.attributes.extend(key_values(s["attributes"]))
        for e in s["events"]:
            ev = span.events.add()
            ev.time_unix_nano = int(e["time_unix_nano"])
            ev.name = text(e["name"])
            ev.attributes.extend(key_values(e["attributes"]))
        span.status.SetInParent()
        span.status.code = s["status_code"]
        span.status.message = text(s["status_message"])
        span.flags = s["flags"]
    return ts.ExportTraceServiceRequest(resource_spans=[rs])


def _rewrite_ids(obj: Any, convert) -> Any:
    if isinstance(obj, dict):
        return {
            k: (convert(v) if k in ID_KEYS and isinstance(v, str) else _rewrite_ids(v, convert)) for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_rewrite_ids(v, convert) for v in obj]
    return obj


def otlp_json(msg) -> str:
    """The OTLP/JSON text of ``msg``: proto3 JSON with hex ids and integer enums, compact, UTF-8."""
    from google.protobuf import json_format

    d = json_format.MessageToDict(msg, use_integers_for_enums=True)
    d = _rewrite_ids(d, lambda b64: base64.b64decode(b64).hex())
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def parse_otlp_json(data: bytes, message_class):
    """Parses OTLP/JSON: hex ids become base64 first, since ``json_format`` reads ``bytes`` as base64."""
    from google.protobuf import json_format

    d = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    d = _rewrite_ids(d, lambda h: base64.b64encode(bytes.fromhex(h)).decode("ascii"))
    return json_format.ParseDict(d, message_class())


def _refuse_constant(name: str):
    # Python's json accepts NaN/Infinity literals; RFC 8259 (and every OTLP receiver) does not.
    raise ValueError(f"invalid JSON literal {name}")


def same_message(a, b) -> bool:
    """Equality that also holds for NaN doubles: both deterministic encodings are byte-equal."""
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
