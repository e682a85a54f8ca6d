# SPDX-License-Identifier: Apache-2.0
"""Edge cases of the OpenTelemetry trace projections, exported by the reference to a loopback OTLP receiver.

Each case is a small run on a fresh context with two subscribers, as in ``otel_scenario.py``: a plain one
collecting the raw ATOF events and an ``OpenTelemetrySubscriber`` per configuration. The cases cover what the
main scenario does not: metadata promotion of every value kind, every scope category and payload shape, the
span event limit, mark projections (late marks, ``session.start``, hook names, metric marks), LLM payloads the
codecs decode without annotations, error propagation to parents and the completed-context time-to-live::

    python otel_cases.py            # prints {"cases": [...]} (see ``capture``)

``scripts/capture_otel_case_vectors.sh`` runs it under the reference to produce ``Tests/vectors/otel_cases.json``.
"""

from __future__ import annotations

import contextvars
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from otel_scenario import OtlpReceiver, flatten, make_config

PROMOTE = ["app.", "gen_ai.", "metadata"]
METRIC_SCHEMA = {"name": "nemo.relay.metric_measurements", "version": "1"}


def promotion(nr: Any) -> None:
    S = nr.ScopeType
    md = {
        "app.obj": {"k": 1},
        "app.null": None,
        "app.list_int": [1, 2],
        "app.list_float": [1, 2.5],
        "app.list_str": ["a", "b"],
        "app.list_mixed": [1, "a"],
        "app.list_obj": [{"a": 1}],
        "app.empty": [],
        "app.big": 2**63 + 5,
        "app.float": 1.5,
        "app.bool": True,
        "gen_ai.x": "h",
        "metadata": "m",
        "session_id": "s-1",
    }
    with nr.scope.scope("agent", S.Agent, metadata=md):
        h = nr.scope.push("f", S.Function, metadata={"app.only": 1})
        nr.scope.pop(h)
        h = nr.scope.push("p1", S.Function, metadata={"app.z": 1, "app.a": 1, "app.k": 5})
        nr.scope.pop(h, metadata={"app.m": 2, "app.k": 6})
        h = nr.scope.push("p2", S.Function, metadata={"app.x": 1})
        nr.scope.pop(h, metadata={"app.x": {"o": 1}})
        nr.scope.event("m", data={"d": 1}, metadata={"app.mark": 1, "gen_ai.x": 2, "app.obj": {}})
        nr.scope.event("m2", metadata={"app.mark": 1})


def scopes(nr: Any) -> None:
    S = nr.ScopeType
    agent_md = {
        "session_id": "s1",
        "user_id": "u1",
        "agent_kind": "k1",
        "gen_ai.agent.name": "named",
        "agent_description": "desc",
        "model": "m-agent",
    }
    with nr.scope.scope("agent", S.Agent, metadata=agent_md):
        h = nr.scope.push("llm-bare", S.Llm)
        for i in range(130):
            nr.scope.event("tick", handle=h, data={"i": i})
        nr.scope.pop(h)
        h = nr.scope.push("strin", S.Function, input="hello  ")
        nr.scope.pop(h, output="  world")
        h = nr.scope.push("numin", S.Function, input=5)
        nr.scope.pop(h, output={"message": "hi", "x": 1})
        h = nr.scope.push("jsonstr", S.Function, input='{"content": "inner"}')
        nr.scope.pop(h, output=["a", {"text": "b"}, {"type": "thinking", "text": "no"}, {"name": "t1"}])
        h = nr.scope.push(
            "mytool",
            S.Tool,
            input="not json",
            metadata={
                "tool_type": "function",
                "description": "d1",
                "gen_ai.tool.name": "renamed",
                "tool_call_id": "tc-meta",
            },
        )
        nr.scope.pop(h, output=[1, 2])
        h = nr.scope.push("tool2", S.Tool, input='{"a": 1}')
        nr.scope.pop(h, output={"r": 1}, metadata={"otel.status_code": "ERROR", "otel.status_description": "boom"})
        h = nr.scope.push(
            "search",
            S.Retriever,
            input={"query": "q"},
            metadata={
                "gen_ai.data_source.id": "kb",
                "top_k": 3,
                "provider": "acme",
                "server_address": "h",
                "server_port": 443,
            },
        )
        nr.scope.pop(h, output={"documents": [1]})
        h = nr.scope.push("embed-openai", S.Embedder, input={"x": 1}, metadata={"model": "text-emb-3"})
        nr.scope.pop(h, output={"usage": {"prompt_tokens": 7}, "model": "text-emb-3-resp"})
        h = nr.scope.push("rr", S.Reranker, metadata={"model": "r1"})
        nr.scope.pop(h)
        h = nr.scope.push("ev", S.Evaluator)
        nr.scope.pop(h, metadata={"otel.status_code": "error", "error_type": "et"})
        h = nr.scope.push("gd", S.Guardrail)
        nr.scope.pop(h, metadata={"otel.status_code": "ERROR", "error.type": "explicit"})
        h = nr.scope.push("cu", S.Custom, metadata={"app.s": 1})
        nr.scope.pop(h, metadata={"other": 1})
        h = nr.scope.push("un", S.Unknown)
        nr.scope.pop(h, metadata={"otel.status_code": "UNSET"})
        outer = nr.scope.push("outer", S.Function)
        inner = nr.scope.push("inner", S.Function)
        nr.scope.pop(
            inner, metadata={"otel.status_code": "ERROR", "error.type": "child_err", "exception.type": "ValueError"}
        )
        nr.scope.pop(outer, metadata={"otel.status_code": "ERROR", "otel.status_description": "outer failed"})


def marks(nr: Any) -> None:
    S = nr.ScopeType
    nr.scope.event("on-root", data={"early": True})
    with nr.scope.scope("agent", S.Agent, metadata={"session_id": "s-m"}):
        h = nr.scope.push("closed", S.Function)
        nr.scope.pop(h)
        nr.scope.event("late", handle=h, data="str-data", metadata={"k": "v"})
        nr.scope.event("session.start", data={"d": 1}, metadata={"session_id": "S", "user_id": "U", "agent_kind": "K"})
        nr.scope.event("hooked", metadata={"hook_event_name": "llm.chunk"})
        nr.scope.event("llm.chunk", data={"chunk_index": 0})
        nr.scope.event(
            "good-metric",
            data={
                "measurements": [
                    {"name": "tokens.used", "kind": "counter", "value_type": "u64", "value": 5, "unit": "{token}"}
                ]
            },
            data_schema=METRIC_SCHEMA,
        )
        bad = [
            {"x": 1},
            {"measurements": []},
            {"measurements": [{"name": "n"}]},
            {"measurements": [{"name": "9n", "kind": "gauge", "value_type": "i64", "value": 1}]},
            {"measurements": [{"name": "n", "kind": "counter", "value_type": "i64", "value": 1}]},
        ]
        for i, data in enumerate(bad):
            nr.scope.event(f"bad{i}", data=data, data_schema=METRIC_SCHEMA)
        nr.scope.event(
            "badver", data={"measurements": []}, data_schema={"name": "nemo.relay.metric_measurements", "version": "2"}
        )
        nr.scope.event("otherschema", data={"a": 1}, data_schema={"name": "x", "version": "1"})
    nr.scope.event("after", data={"late": True})


ANTHROPIC_REQUEST = {
    "model": "claude-sonnet-4",
    "system": "Be brief.",
    "max_tokens": 256,
    "temperature": 0.5,
    "top_k": 5,
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "18C"}]},
    ],
    "tools": [
        {
            "name": "get_weather",
            "description": "Weather.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
}
ANTHROPIC_RESPONSE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "It is 18C."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 50, "output_tokens": 7, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 3},
}
RESPONSES_REQUEST = {
    "model": "gpt-4.1",
    "instructions": "You are terse.",
    "input": "Find the weather",
    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
}
RESPONSES_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "model": "gpt-4.1-2025",
    "status": "completed",
    "output": [
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "weather"}'}
    ],
    "usage": {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25},
}
CHAT_REQUEST = {
    "model": "gpt-4o",
    "temperature": 1,
    "max_tokens": 100,
    "stop": "END",
    "n": 2,
    "seed": 7,
    "frequency_penalty": 0.5,
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
}
CHAT_RESPONSE = {
    "id": "c1",
    "object": "chat.completion",
    "model": "gpt-4o-2024",
    "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "partial"}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 100, "total_tokens": 109, "cost": 0.25},
}


def llm_payloads(nr: Any) -> None:
    S = nr.ScopeType
    with nr.scope.scope("agent", S.Agent):
        h = nr.scope.push("anthropic", S.Llm, input={"headers": {"x-id": "1"}, "content": ANTHROPIC_REQUEST})
        nr.scope.pop(h, output=ANTHROPIC_RESPONSE)
        h = nr.scope.push("openai.responses", S.Llm, input={"headers": {}, "content": RESPONSES_REQUEST})
        nr.scope.pop(h, output=RESPONSES_RESPONSE)
        h = nr.scope.push("chat-call", S.Llm, input={"headers": {}, "content": CHAT_REQUEST})
        nr.scope.pop(h, output=CHAT_RESPONSE)
        h = nr.scope.push(
            "manual-llm", S.Llm, input={"model": "local-model", "prompt": "Say hi"}, metadata={"provider": "local"}
        )
        nr.scope.pop(
            h,
            output={
                "model": "local-model-v2",
                "text": "hi",
                "usage": {
                    "input_tokens": 3,
                    "output_tokens": 1,
                    "total_tokens": 1,
                    "cost": {"currency": "EUR", "total": 0.002},
                },
            },
        )
        h = nr.scope.push(
            "replay",
            S.Llm,
            input={
                "content": {
                    "source": "openclaw.session",
                    "provider": "openclaw-provider",
                    "systemPrompt": "System text",
                    "messages": [{"role": "user", "content": "question"}, {"role": "assistant"}, "skipped"],
                }
            },
        )
        nr.scope.pop(
            h,
            output={
                "openclaw": {"turn": 1},
                "content": [{"type": "text", "text": "answer"}],
                "tool_calls": [
                    {"call_id": "c9", "function": {"name": "fn", "arguments": {"a": 1}}},
                    {"toolName": "other", "args": "raw"},
                ],
            },
        )
        h = nr.scope.push("gemini-generate_content", S.Llm, input={"content": {"contents": "x"}})
        nr.scope.pop(
            h, output={"candidates": []}, metadata={"otel.status_code": "ERROR", "exception.type": "TimeoutError"}
        )


def gen_ai_lookups(nr: Any) -> None:
    S = nr.ScopeType
    with nr.scope.scope(
        "agent",
        S.Agent,
        metadata={"agent_id": "a-1", "agent_version": "2", "thread_id": "th-1", "gen_ai.request.model": "agent-model"},
    ):
        h = nr.scope.push(
            "t-data",
            S.Tool,
            input={"tool_type": "x", "description": "dd", "gen_ai.tool.name": "fromdata", "tool_call_id": "from-data"},
        )
        nr.scope.pop(h, output="plain result")
        h = nr.scope.push("t-meta", S.Tool, input={"a": 1}, metadata={"agent_name": "helper", "tool_description": 5})
        nr.scope.pop(h, output={"usage": {"tool_type": "nested"}})
        h = nr.scope.push(
            "azure openai call",
            S.Llm,
            metadata={"session_id": "s-9", "server.address": "api.example", "server_port": 8443},
        )
        nr.scope.pop(h)
        h = nr.scope.push("claude-call", S.Llm, metadata={"model_name": "from-metadata"})
        nr.scope.pop(h, metadata={"otel.status_code": "ERROR", "error.type": "rate_limited"})
        h = nr.scope.push(
            "ret",
            S.Retriever,
            input={"index_name": "idx", "top_k": 2.0},
            metadata={"gen_ai.request.model": "ret-model"},
        )
        nr.scope.pop(h)
        h = nr.scope.push("emb", S.Embedder, input={"request": {"model": "nested-model"}})
        nr.scope.pop(h, output={"response": {"model": "resp-model"}, "input_tokens": 4})


def ttl(nr: Any) -> None:
    S = nr.ScopeType
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = nr.scope.push("a", S.Agent, timestamp=t0)
    b = nr.scope.push("b", S.Function, timestamp=t0 + timedelta(milliseconds=10))
    nr.scope.pop(b, timestamp=t0 + timedelta(milliseconds=20))
    nr.scope.pop(a, timestamp=t0 + timedelta(milliseconds=30))
    nr.scope.event("soon", handle=b, timestamp=t0 + timedelta(milliseconds=500))
    nr.scope.event("expired", handle=a, timestamp=t0 + timedelta(milliseconds=1600))
    nr.scope.event("expired-too", handle=b, timestamp=t0 + timedelta(milliseconds=1700))


CASES: list[tuple[str, str, Callable[[Any], None], dict[str, tuple[str, dict[str, Any]]]]] = [
    (
        "promotion",
        "metadata promotion of every value kind, reserved keys, start-only and end-only keys",
        promotion,
        {
            "full": (
                "full",
                {
                    "promote_metadata_prefixes": PROMOTE,
                    "attribute_mappings": [{"key": "session.id", "alias": "app.session"}],
                },
            ),
            "openinference": ("openinference", {"promote_metadata_prefixes": PROMOTE}),
            "openinference_mark_tool": (
                "openinference",
                {"promote_metadata_prefixes": PROMOTE, "mark_projection": "tool"},
            ),
            "gen_ai": ("gen_ai", {"promote_metadata_prefixes": PROMOTE}),
        },
    ),
    (
        "scopes",
        (
            "every scope category, string/number/JSON-string payloads, status variants, the 128-event limit, "
            "error propagation to an erroring parent"
        ),
        scopes,
        {
            "full": (
                "full",
                {
                    "attribute_mappings": [
                        {"key": "nemo_relay.uuid", "alias": "x.u"},
                        {"key": "nemo_relay.start.data", "alias": "x.in"},
                    ]
                },
            ),
            "openinference": ("openinference", {}),
            "gen_ai": ("gen_ai", {}),
        },
    ),
    (
        "marks",
        "marks on the implicit root, on a closed scope, session.start, hook names, metric marks",
        marks,
        {
            "full": ("full", {"attribute_mappings": [{"key": "session.id", "alias": "a.sid"}]}),
            "full_mark_tool": (
                "full",
                {
                    "mark_projection": "tool",
                    "mark_exclude_names": ["llm.chunk", "after"],
                    "attribute_mappings": [{"key": "session.id", "alias": "a.sid"}],
                },
            ),
            "openinference": ("openinference", {}),
            "openinference_mark_tool": ("openinference", {"mark_projection": "tool"}),
            "gen_ai": ("gen_ai", {}),
        },
    ),
    (
        "llm_payloads",
        "LLM scopes with raw Anthropic, Responses, Chat and manual payloads (no codec annotations)",
        llm_payloads,
        {
            "full": ("full", {}),
            "openinference": ("openinference", {}),
            "gen_ai": ("gen_ai", {}),
        },
    ),
    (
        "gen_ai_lookups",
        "where gen_ai finds names, ids, models and counts: profile, metadata, payload, nested",
        gen_ai_lookups,
        {
            "gen_ai": ("gen_ai", {}),
            "full": ("full", {}),
        },
    ),
    (
        "ttl",
        "completed-scope contexts expire after completed_span_context_ttl_millis of event time",
        ttl,
        {
            "full": ("full", {"completed_span_context_ttl_millis": 1000}),
        },
    ),
]


def capture(nr: Any, receiver: OtlpReceiver) -> list[dict[str, Any]]:
    """Runs every case under each of its configurations; returns the cases with raw events and spans."""
    out = []
    for name, description, body, configs in CASES:
        runs = {}
        for label, (otel_type, options) in configs.items():
            receiver.reset()
            subscriber = nr.OpenTelemetrySubscriber(make_config(nr, otel_type, receiver.url, options))
            lines: list[str] = []
            nr.subscribers.register("otel-case-events", lambda e, lines=lines: lines.append(e.to_json()))
            subscriber.register("otel-case")
            try:
                contextvars.Context().run(body, nr)
                subscriber.force_flush()
                nr.subscribers.flush()
                receiver.wait(count=1, timeout_ms=5000)
                requests = [{"body": r["decoded"]} for r in receiver.requests()]
                diagnostics = [
                    {"code": d.code, "message": d.message, "count": d.count}
                    for d in subscriber.runtime_diagnostics().entries
                ]
            finally:
                subscriber.deregister("otel-case")
                nr.subscribers.deregister("otel-case-events")
                subscriber.shutdown()
            runs[label] = {
                "config": {"type": otel_type, **options},
                "events_raw": [json.loads(line) for line in lines],
                "spans_raw": [f["span"] for f in flatten(requests)],
                "runtime_diagnostics": diagnostics,
            }
        out.append({"name": name, "description": description, "configurations": runs})
    return out


if __name__ == "__main__":
    import nemo_relay

    with OtlpReceiver() as rx:
        json.dump({"cases": capture(nemo_relay, rx)}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
