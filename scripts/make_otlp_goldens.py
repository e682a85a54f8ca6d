#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the OTLP encoder golden vectors, Tests/vectors/otlp_encoder.json.

    python3 -m pip install opentelemetry-proto opentelemetry-sdk opentelemetry-exporter-otlp-proto-common
    python3 scripts/make_otlp_goldens.py [--check]

Every case describes one batch of spans in a plain JSON form (Tests/vectors/README.md); the expected
protobuf bytes and OTLP/JSON text come from opentelemetry-proto itself: the case is built as an
``ExportTraceServiceRequest`` (Tests/support/otlp_cases.py), serialized with ``SerializeToString()``,
and mapped to JSON with ``json_format.MessageToDict`` (ids rewritten from base64 to hex, as OTLP/JSON
requires, and written compactly). Encodings above 64 KiB are stored as their size and FNV-1a hash.

The script then builds the spans of two cases a second time with the OpenTelemetry Python SDK
(``ReadableSpan`` objects, encoded by ``opentelemetry.exporter.otlp.proto.common.trace_encoder.
encode_spans``) and checks that the SDK's request equals ours field for field (ids, times,
attributes, events, status, resource, scope). The one expected difference is ``Span.flags``: the
SDK writes only the has-is-remote/is-remote bits (0x100, 0x200), never the W3C trace flags of bits
0-7. The outcome is recorded in the vector file under ``sdk_cross_check``; a mismatch aborts.

``--check`` regenerates in memory and fails if the committed file differs (what CI runs).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "Tests/vectors/otlp_encoder.json"
sys.path.insert(0, str(ROOT / "Tests/support"))

import otlp_cases  # noqa: E402 - found through the path set above

# MARK: - Case builders

KIND = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
STATUS = {"unset": 0, "ok": 1, "error": 2}


def s(v):
    return {"string": v}


def i(v: int):
    return {"int": str(v)}


def d(v):
    return {"double": v}


def b(v: bool):
    return {"bool": v}


def raw(h: str):
    return {"bytes": h}


def arr(*vs):
    return {"array": list(vs)}


def kv(*pairs):
    return {"kvlist": attrs(*pairs)}


def attrs(*pairs):
    return [{"key": k, "value": v} for k, v in pairs]


def event(name, time, *pairs):
    return {"name": name, "time_unix_nano": str(time), "attributes": attrs(*pairs)}


def span(
    trace_id,
    span_id,
    name,
    start,
    end,
    *,
    parent="",
    trace_state="",
    kind="internal",
    attributes=(),
    events=(),
    status="unset",
    message="",
    flags=1,
):
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "trace_state": trace_state,
        "name": name,
        "kind": KIND[kind],
        "start_time_unix_nano": str(start),
        "end_time_unix_nano": str(end),
        "attributes": [a if isinstance(a, dict) else {"key": a[0], "value": a[1]} for a in attributes],
        "events": list(events),
        "status_code": STATUS[status],
        "status_message": message,
        "flags": flags,
    }


def resource(*pairs, scope_name="nemo-relay", scope_version="0.1.0"):
    return {"attributes": attrs(*pairs), "scope_name": scope_name, "scope_version": scope_version}


SERVICE = resource(
    ("service.name", s("agent-service")),
    ("service.namespace", s("nemo")),
    ("service.version", s("1.2.3")),
    ("deployment.environment.name", s("test")),
    ("host.aliases", arr(s("a"), s("b"))),
)

TRACE = "01958bbf66d47b4283ef21c483a37e61"
T0 = 1772368496123456000

EVERY_TYPE = [
    ("str", s("plain")),
    ("str.empty", s("")),
    ("str.non_ascii", s("café 中文 😀 \u2028 \u007f")),
    ("str.escapes", s('quote " backslash \\ newline \n tab \t cr \r nul \u0000 bell \u0007 slash /')),
    ("", s("empty key")),
    ("bool.true", b(True)),
    ("bool.false", b(False)),
    ("int.zero", i(0)),
    ("int.one", i(1)),
    ("int.minus_one", i(-1)),
    ("int.max", i(2**63 - 1)),
    ("int.min", i(-(2**63))),
    ("int.large", i(1772368496123456000)),
    ("double.zero", d(0.0)),
    ("double.negative_zero", d(-0.0)),
    ("double.half", d(1.5)),
    ("double.tenth", d(0.1)),
    ("double.negative", d(-273.15)),
    ("double.tiny", d(5e-324)),
    ("double.small", d(1e-05)),
    ("double.max", d(1.7976931348623157e308)),
    ("double.big", d(1e16)),
    ("double.integral", d(9007199254740993.0)),
    ("double.nan", d("NaN")),
    ("double.inf", d("Infinity")),
    ("double.minus_inf", d("-Infinity")),
    ("bytes.empty", raw("")),
    ("bytes.one", raw("ff")),
    ("bytes.two", raw("00fe")),
    ("bytes.three", raw("000102")),
    ("bytes.all", raw(bytes(range(256)).hex())),
    ("array.empty", arr()),
    ("array.strings", arr(s("a"), s(""), s("ü"))),
    ("array.mixed", arr(s("x"), i(-5), d(2.5), b(False), raw("beef"))),
    ("array.nested", arr(arr(i(1), i(2)), arr(), arr(arr(s("deep"))))),
    ("kvlist.empty", kv()),
    ("kvlist.flat", kv(("a", s("1")), ("b", i(2)), ("", b(True)))),
    ("kvlist.nested", kv(("inner", kv(("list", arr(kv(("k", s("v"))), i(7))))), ("empty", kv()))),
]

CHILD_EVENTS = [
    event(
        "exception",
        T0 + 900_000_000,
        ("exception.type", s("TimeoutError")),
        ("exception.message", s("délai dépassé")),
        ("exception.stacktrace", s('Traceback (most recent call last):\n  File "agent.py", line 3\n')),
    ),
    event("retry", T0 + 950_000_000),
    event("", 0, ("attempt", i(2))),
]


def deep_array(depth: int):
    v = s("bottom")
    for n in range(depth):
        v = arr(v, i(n)) if n % 2 else kv((f"level{n}", v))
    return v


def typical_batch():
    """One agent run: an agent span, three LLM calls, three tool calls, two functions, a guardrail."""
    prompt = "You are a helpful travel assistant. Plan a two-day trip to Lisbon with museums and food. " * 2
    answer = "Day 1: Belém Tower, Jerónimos Monastery, pastéis de nata. Day 2: Alfama, Fado, LX Factory. " * 2
    out = []
    ids = [f"{0x83EF21C483A37E61 + n:016x}" for n in range(10)]

    def relay(n, parent, scope_type):
        return [
            ("nemo_relay.uuid", s(f"01958bbf-66d4-7b42-{ids[n][:4]}-{ids[n][4:]}")),
            ("nemo_relay.parent_uuid", s(parent)),
            ("nemo_relay.scope_type", s(scope_type)),
        ]

    out.append(
        span(
            TRACE,
            ids[0],
            "invoke_agent travel-planner",
            T0,
            T0 + 9_000_000_000,
            attributes=relay(0, "", "agent")
            + [("gen_ai.operation.name", s("invoke_agent")), ("gen_ai.agent.name", s("travel-planner"))],
            status="ok",
        )
    )
    for n in range(1, 10):
        start = T0 + n * 800_000_000
        base = relay(n, f"01958bbf-66d4-7b42-{ids[0][:4]}-{ids[0][4:]}", "llm")
        if n in (1, 4, 7):
            a = base + [
                ("gen_ai.operation.name", s("chat")),
                ("gen_ai.provider.name", s("openai")),
                ("gen_ai.request.model", s("gpt-4.1")),
                ("gen_ai.response.model", s("gpt-4.1-2025-04-14")),
                ("gen_ai.response.id", s(f"chatcmpl-{ids[n]}")),
                ("gen_ai.usage.input_tokens", i(1200 + n)),
                ("gen_ai.usage.output_tokens", i(240 + n)),
                ("gen_ai.request.temperature", d(0.2)),
                ("gen_ai.response.finish_reasons", arr(s("tool_calls" if n < 7 else "stop"))),
                ("gen_ai.input.messages", s(f'[{{"role":"user","content":"{prompt}"}}]')),
                ("gen_ai.output.messages", s(f'[{{"role":"assistant","content":"{answer}"}}]')),
            ]
            out.append(
                span(
                    TRACE,
                    ids[n],
                    "chat gpt-4.1",
                    start,
                    start + 700_000_000,
                    parent=ids[0],
                    kind="client",
                    attributes=a,
                    status="ok",
                )
            )
        elif n in (2, 5, 8):
            a = base[:2] + [
                ("nemo_relay.scope_type", s("tool")),
                ("gen_ai.operation.name", s("execute_tool")),
                ("gen_ai.tool.name", s("search_attractions")),
                ("gen_ai.tool.call.id", s(f"call_{ids[n]}")),
                ("gen_ai.tool.call.arguments", s('{"city":"Lisbon","category":"museum","limit":5}')),
                ("gen_ai.tool.call.result", s('{"results":["MAAT","Gulbenkian","Azulejo Museum"]}')),
            ]
            failed = n == 8
            out.append(
                span(
                    TRACE,
                    ids[n],
                    "execute_tool search_attractions",
                    start,
                    start + 120_000_000,
                    parent=ids[0],
                    attributes=a + ([("error.type", s("TimeoutError"))] if failed else []),
                    events=[event("exception", start + 120_000_000, ("exception.type", s("TimeoutError")))]
                    if failed
                    else [],
                    status="error" if failed else "ok",
                    message="tool timed out" if failed else "",
                )
            )
        elif n in (3, 6):
            a = base[:2] + [("nemo_relay.scope_type", s("function")), ("code.function.name", s("rank_results"))]
            out.append(span(TRACE, ids[n], "rank_results", start, start + 5_000_000, parent=ids[0], attributes=a))
        else:
            a = base[:2] + [("nemo_relay.scope_type", s("guardrail")), ("nemo_relay.guardrail.decision", s("allow"))]
            out.append(span(TRACE, ids[n], "guardrail pii", start, start + 2_000_000, parent=ids[0], attributes=a))
    return out


def cases() -> list[dict]:
    huge_value = {"repeat": "a€😀", "times": 300_000}  # 2,100,000 bytes: a four-byte length varint
    return [
        {
            "name": "root_span_every_attribute_type",
            "description": "A root span (no parent) holding every AnyValue type, edge values and non-ASCII text.",
            "resource": SERVICE,
            "spans": [
                span(
                    TRACE,
                    "83ef21c483a37e61",
                    "invoke_agent ünïcode 😀",
                    T0,
                    T0 + 876_543_211,
                    kind="server",
                    attributes=attrs(*EVERY_TYPE),
                    flags=0x101,
                )
            ],
        },
        {
            "name": "child_span_error_status_and_events",
            "description": "A child of a remote parent with tracestate, an ERROR status with message and three "
            "events (one without attributes, one with empty name and zero time).",
            "resource": SERVICE,
            "spans": [
                span(
                    "00000000000000000000000000000001",
                    "ff00ff00ff00ff00",
                    "chat gpt-4.1",
                    T0,
                    T0 + 1_000_000_000,
                    parent="0000000000000001",
                    trace_state="vendor=value,other=x",
                    kind="client",
                    attributes=attrs(("gen_ai.operation.name", s("chat")), ("error.type", s("TimeoutError"))),
                    events=CHILD_EVENTS,
                    status="error",
                    message="upstream failed: délai dépassé",
                    flags=0x301,
                )
            ],
        },
        {
            "name": "defaults_omitted",
            "description": "Default values everywhere: empty resource and scope, kind UNSPECIFIED, zero times, "
            "flags 0, empty name; only the ids, one attribute with empty key and empty value, and an OK "
            "status with a message remain.",
            "resource": resource(scope_name="", scope_version=""),
            "spans": [
                span(TRACE, "0000000000000002", "", 0, 0, kind="unspecified", attributes=attrs(("", s(""))), flags=0),
                span(TRACE, "0000000000000003", "", 0, 0, kind="unspecified", status="ok", message="fine", flags=0),
            ],
        },
        {
            "name": "three_span_trace",
            "description": "A root and two children (PRODUCER, CONSUMER) in one batch; resource attributes of "
            "every kind and a scope without version.",
            "resource": resource(
                ("service.name", s("svc")),
                ("service.instance.id", i(42)),
                ("sampling.ratio", d(0.25)),
                ("feature.enabled", b(True)),
                ("labels", kv(("team", s("obs")), ("tier", i(1)))),
                ("build.id", raw("c0ffee")),
                scope_version="",
            ),
            "spans": [
                span(TRACE, "1111111111111111", "root", T0, T0 + 3_000, kind="server", status="ok"),
                span(
                    TRACE,
                    "2222222222222222",
                    "produce",
                    T0 + 1,
                    T0 + 2,
                    parent="1111111111111111",
                    kind="producer",
                    attributes=attrs(("messaging.system", s("kafka"))),
                ),
                span(
                    TRACE,
                    "3333333333333333",
                    "consume",
                    T0 + 2,
                    T0 + 3,
                    parent="2222222222222222",
                    kind="consumer",
                    status="error",
                    flags=0,
                ),
            ],
        },
        {
            "name": "no_spans",
            "description": "An empty batch: one ResourceSpans and one ScopeSpans without spans.",
            "resource": SERVICE,
            "spans": [],
        },
        {
            "name": "deep_nesting",
            "description": "An attribute value nested 30 kvlists and arrays deep (81 messages, within the "
            "protobuf and json_format recursion limits of 100).",
            "resource": SERVICE,
            "spans": [span(TRACE, "4444444444444444", "deep", T0, T0 + 1, attributes=attrs(("deep", deep_array(30))))],
        },
        {
            "name": "huge_strings",
            "description": "Strings whose lengths need three- and four-byte varints at every nesting level.",
            "resource": SERVICE,
            "spans": [
                span(
                    TRACE,
                    "5555555555555555",
                    {"repeat": "span-name ", "times": 7_000},
                    T0,
                    T0 + 1,
                    attributes=attrs(
                        ({"repeat": "k", "times": 20_000}, s(huge_value)),
                        ("array", arr(s({"repeat": "é", "times": 40_000}))),
                    ),
                    events=[event({"repeat": "e", "times": 70_000}, T0)],
                    status="error",
                    message={"repeat": "x", "times": 17_000},
                )
            ],
        },
        {
            "name": "typical_batch_10_spans",
            "description": "A typical batch: one agent run of ten spans as the gen_ai projection makes them.",
            "resource": resource(
                ("service.name", s("agent-service")),
                ("service.namespace", s("nemo")),
                ("service.version", s("1.2.3")),
                scope_name="opentelemetry",
                scope_version="",
            ),
            "spans": typical_batch(),
        },
    ]


def expected(case: dict) -> dict:
    msg = otlp_cases.request(case)
    pb = msg.SerializeToString()
    js = otlp_cases.otlp_json(msg).encode("utf-8")
    out: dict = {}
    if len(pb) <= otlp_cases.INLINE_LIMIT:
        out["protobuf_hex"] = pb.hex()
    else:
        out["protobuf_size"] = len(pb)
        out["protobuf_fnv1a64"] = otlp_cases.fnv1a64(pb)
    if len(js) <= otlp_cases.INLINE_LIMIT:
        out["json"] = js.decode("utf-8")
    else:
        out["json_size"] = len(js)
        out["json_fnv1a64"] = otlp_cases.fnv1a64(js)
    return out


# MARK: - Responses


def responses() -> list[dict]:
    """ExportTraceServiceResponse bodies with the partial success opentelemetry-proto reads from them.

    Protobuf bodies get unknown fields of every wire type appended or prepended (the parser must skip
    them) and repeated occurrences (which merge); JSON bodies use both key spellings, numbers and
    strings for int64, nulls and unknown members. ``expected`` is null when the response reports full
    success (no partial_success, or one with zero rejected spans and no message).
    """
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse as R

    def partial(rejected: int, message: str) -> bytes:
        r = R()
        r.partial_success.rejected_spans = rejected
        r.partial_success.error_message = message
        return r.SerializeToString()

    empty_partial = R()
    empty_partial.partial_success.SetInParent()
    # Unknown fields: 99 varint, 100 fixed64, 101 bytes, 102 a group holding a varint, 103 fixed32.
    unknown = bytes.fromhex("987801") + bytes.fromhex("a1060102030405060708") + bytes.fromhex("aa0603616263")
    unknown += bytes.fromhex("b3060801b406") + bytes.fromhex("bd0601020304")
    inner_unknown = R()
    inner_unknown.partial_success.rejected_spans = 5
    pb_cases = [
        ("empty_body", b""),
        ("partial_success_absent_unknown_only", unknown),
        ("partial_success_empty", empty_partial.SerializeToString()),
        ("rejected_and_message", partial(3, "3 spans had an invalid trace id")),
        ("warning_only", partial(0, "attribute limit reached; some attributes were dropped")),
        ("non_ascii_message", partial(1, "rejeté: ünïcode 😀")),
        ("negative_rejected", partial(-1, "")),
        ("int64_max_rejected", partial(2**63 - 1, "max")),
        ("unknown_fields_around", unknown + partial(7, "seven") + unknown),
        # An unknown field inside ExportTracePartialSuccess (field 3, a string).
        ("unknown_inner_field", bytes.fromhex("0a0b") + bytes.fromhex("0805") + bytes.fromhex("1a0778797a78797a78")),
        # Two occurrences of partial_success merge: the later rejected count wins, the message stays.
        ("repeated_partial_success_merges", partial(2, "first") + partial(9, "")),
        # A known field number with the wrong wire type is an unknown field (fixed32 rejected_spans).
        ("wrong_wire_type_ignored", bytes.fromhex("0a05") + bytes.fromhex("0d01000000")),
    ]
    out = []
    for name, body in pb_cases:
        r = R.FromString(body)
        p = r.partial_success
        has = r.HasField("partial_success") and (p.rejected_spans != 0 or p.error_message != "")
        exp = {"rejected_spans": str(p.rejected_spans), "error_message": p.error_message} if has else None
        out.append({"name": "protobuf_" + name, "protobuf_hex": body.hex(), "expected": exp})
    json_cases = [
        ("empty_object", "{}"),
        ("canonical", json_format.MessageToJson(R.FromString(partial(3, "bad ids")), indent=None)),
        ("number_rejected", '{"partialSuccess":{"rejectedSpans":4,"errorMessage":"four"}}'),
        ("snake_case", '{"partial_success":{"rejected_spans":"2","error_message":"two"}}'),
        ("integral_double_rejected", '{"partialSuccess":{"rejectedSpans":6.0}}'),
        ("exponent_string_rejected", '{"partialSuccess":{"rejectedSpans":"1e2"}}'),
        ("nulls", '{"partialSuccess":{"rejectedSpans":null,"errorMessage":null}}'),
        ("partial_success_null", '{"partialSuccess":null}'),
        ("partial_success_empty", '{"partialSuccess":{}}'),
        ("warning_only", '{"partialSuccess":{"errorMessage":"slow down"}}'),
        ("unknown_members", '{"extra":[1,{"a":null}],"partialSuccess":{"rejectedSpans":"1","future":true}}'),
        ("escaped_message", '{"partialSuccess":{"rejectedSpans":"-2","errorMessage":"a\\"b\\u00e9\\ud83d\\ude00"}}'),
    ]
    for name, body in json_cases:
        r = json_format.Parse(body, R(), ignore_unknown_fields=True)
        p = r.partial_success
        has = r.HasField("partial_success") and (p.rejected_spans != 0 or p.error_message != "")
        exp = {"rejected_spans": str(p.rejected_spans), "error_message": p.error_message} if has else None
        out.append({"name": "json_" + name, "json": body, "expected": exp})
    # Malformed bodies: opentelemetry-proto refuses each one, and so must the decoders. (json_format
    # also takes a top-level array, or a string for the partialSuccess object, as an empty message;
    # the Swift decoder refuses both, see OTLPEncoderTests.)
    bad_pb = [
        ("truncated_tag_varint", "80"),
        ("truncated_length", "0a"),
        ("length_beyond_end", "0a0508"),
        ("truncated_inner_varint", "0a0108"),
        ("eleven_byte_varint", "0a0c08ffffffffffffffffffff01"),
        ("wire_type_6", "0e"),
        ("wire_type_7", "0f00"),
        ("field_number_zero", "0000"),
        ("unexpected_end_group", "0c"),
        ("unterminated_group", "0b0801"),
        ("mismatched_end_group", "0b14"),
        ("truncated_fixed64", "11010203"),
        ("truncated_fixed32", "1501"),
    ]
    for name, body in bad_pb:
        try:
            R.FromString(bytes.fromhex(body))
        except Exception:  # noqa: BLE001 - DecodeError, whatever the runtime calls it
            out.append({"name": "protobuf_malformed_" + name, "protobuf_hex": body, "expected_error": True})
            continue
        raise SystemExit(f"opentelemetry-proto accepted the malformed response {name}")
    bad_json = [
        ("not_json", "partial success"),
        ("trailing_garbage", "{} x"),
        ("rejected_not_a_number", '{"partialSuccess":{"rejectedSpans":"abc"}}'),
        ("rejected_fraction", '{"partialSuccess":{"rejectedSpans":1.5}}'),
        ("rejected_too_large", '{"partialSuccess":{"rejectedSpans":"9223372036854775808"}}'),
        ("rejected_bool", '{"partialSuccess":{"rejectedSpans":true}}'),
        ("message_number", '{"partialSuccess":{"errorMessage":5}}'),
    ]
    for name, body in bad_json:
        try:
            json_format.Parse(body, R(), ignore_unknown_fields=True)
        except Exception:  # noqa: BLE001 - ParseError or ValueError
            out.append({"name": "json_malformed_" + name, "json": body, "expected_error": True})
            continue
        raise SystemExit(f"json_format accepted the malformed response {name}")
    return out


# MARK: - SDK cross-check


def sdk_value(v: dict):
    """A case value as a Python attribute value of the SDK (dicts and lists nest)."""
    ((kind, x),) = v.items()
    if kind == "string":
        return otlp_cases.text(x)
    if kind == "int":
        return int(x)
    if kind == "double":
        return float(x)
    if kind == "bytes":
        return bytes.fromhex(x)
    if kind == "array":
        return [sdk_value(e) for e in x]
    if kind == "kvlist":
        return {otlp_cases.text(a["key"]): sdk_value(a["value"]) for a in x}
    return x


def sdk_request(case: dict):
    """The case's spans built as SDK ``ReadableSpan`` objects and encoded by the SDK's own encoder."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

    res = case["resource"]
    resource = Resource({a["key"]: sdk_value(a["value"]) for a in res["attributes"]})
    scope = InstrumentationScope(res["scope_name"], res["scope_version"] or None)
    kinds = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
    spans = []
    for sp in case["spans"]:
        state = TraceState([tuple(p.split("=", 1)) for p in sp["trace_state"].split(",")] if sp["trace_state"] else [])
        trace_id = int(sp["trace_id"], 16)
        context = SpanContext(trace_id, int(sp["span_id"], 16), False, TraceFlags(sp["flags"] & 0xFF), state)
        parent = None
        if sp["parent_span_id"]:
            parent = SpanContext(trace_id, int(sp["parent_span_id"], 16), bool(sp["flags"] & 0x200))
        # Plain dicts, not the SDK's BoundedAttributes, so nested arrays and kvlists reach the encoder.
        attributes = {otlp_cases.text(a["key"]): sdk_value(a["value"]) for a in sp["attributes"]}
        events = [
            Event(
                otlp_cases.text(e["name"]),
                {a["key"]: sdk_value(a["value"]) for a in e["attributes"]},
                int(e["time_unix_nano"]),
            )
            for e in sp["events"]
        ]
        code = [StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR][sp["status_code"]]
        spans.append(
            ReadableSpan(
                name=otlp_cases.text(sp["name"]),
                context=context,
                parent=parent,
                resource=resource,
                attributes=attributes,
                events=events,
                kind=kinds[sp["kind"]],
                status=Status(code, sp["status_message"] or None),
                start_time=int(sp["start_time_unix_nano"]),
                end_time=int(sp["end_time_unix_nano"]),
                instrumentation_scope=scope,
            )
        )
    return encode_spans(spans)


def sdk_cross_check(all_cases: list[dict]) -> dict:
    from google.protobuf import json_format

    names = ["root_span_every_attribute_type", "child_span_error_status_and_events"]
    chosen = [c for c in all_cases if c["name"] in names]
    # Both cases share one resource and scope, so the SDK groups their spans into one ResourceSpans.
    combined = {"resource": chosen[0]["resource"], "spans": [sp for c in chosen for sp in c["spans"]]}
    ours = otlp_cases.request(combined)
    sdk = sdk_request(combined)
    ours_spans = ours.resource_spans[0].scope_spans[0].spans
    sdk_spans = sdk.resource_spans[0].scope_spans[0].spans
    if len(sdk.resource_spans) != 1 or len(sdk.resource_spans[0].scope_spans) != 1:
        raise SystemExit("SDK cross-check: the SDK did not produce one ResourceSpans with one ScopeSpans")
    flags = []
    for o, k in zip(ours_spans, sdk_spans, strict=True):
        if o.flags & ~0xFF != k.flags:
            raise SystemExit(f"SDK cross-check: flags {o.flags:#x} (ours) vs {k.flags:#x} (SDK) beyond bits 0-7")
        flags.append({"ours": o.flags, "sdk": k.flags})
        k.flags = o.flags
    if not otlp_cases.same_message(ours, sdk):
        a = json_format.MessageToJson(ours, use_integers_for_enums=True)
        b = json_format.MessageToJson(sdk, use_integers_for_enums=True)
        raise SystemExit(f"SDK cross-check failed: our request differs from the SDK's\n--- ours\n{a}\n--- sdk\n{b}")
    return {
        "result": "passed",
        "cases": names,
        "sdk": {
            p: importlib.metadata.version(p)
            for p in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-common", "opentelemetry-proto")
        },
        "compared": "every field of the ExportTraceServiceRequest (ids, times, attributes, events, status, "
        "resource, scope), as deterministic protobuf bytes after setting each SDK span's flags to ours",
        "protobuf_bytes_identical_after_flags": ours.SerializeToString() == sdk.SerializeToString(),
        "flags": flags,
        "note": "the SDK writes only the has-is-remote (0x100) and is-remote (0x200) bits of Span.flags, "
        "never the W3C trace flags (bits 0-7); our spans carry both",
    }


def build() -> str:
    all_cases = cases()
    out = []
    for c in all_cases:
        out.append({**c, "expected": expected(c)})
    doc = {
        "generator": "scripts/make_otlp_goldens.py",
        "opentelemetry_proto": importlib.metadata.version("opentelemetry-proto"),
        "sdk_cross_check": sdk_cross_check(all_cases),
        "cases": out,
        "responses": responses(),
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed vector file is not up to date")
    args = ap.parse_args()
    text = build()
    if args.check:
        # The recorded package versions may differ from the installed ones; the cases may not.
        committed = json.loads(VECTORS.read_text(encoding="utf-8"))
        fresh = json.loads(text)
        if committed["cases"] != fresh["cases"] or committed["responses"] != fresh["responses"]:
            raise SystemExit(f"{VECTORS.relative_to(ROOT)} is stale: run scripts/make_otlp_goldens.py")
        print(f"{VECTORS.relative_to(ROOT)} is up to date; the SDK cross-check passed")
        return
    VECTORS.write_text(text, encoding="utf-8")
    print(f"wrote {VECTORS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
