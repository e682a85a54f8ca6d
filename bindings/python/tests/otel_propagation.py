# SPDX-License-Identifier: Apache-2.0
"""W3C trace context and Relay propagation, observed on the reference package (``nemo-relay`` on PyPI).

Produces the cases of ``Tests/vectors/otel_propagation.json`` (``scripts/capture_otel_vectors.sh``)::

    python otel_propagation.py                 # prints {"capture": [...], "context": [...], ...}
    python otel_propagation.py --child URL     # process B of the two-process run (context JSON on stdin)

Sections (each case keeps the raw values and a normalised copy with its own numbering):

- ``capture``: what ``capture_traceparent()``, ``capture_propagation_context()``,
  ``capture_rootless_propagation_context()`` and ``capture_propagation_context_with_root(...)`` return on a
  fresh context, in an Agent scope, in a nested Function scope, inside a managed LLM provider callback and
  inside a managed tool callback;
- ``context``: ``PropagationContext`` construction, ``to_json``, ``from_json`` and ``to_traceparent``,
  including malformed and all-zero input (exception type and message);
- ``stack``: ``create_scope_stack_from_propagation`` with rooted, rootless and W3C-carrying contexts, and
  with values that are not contexts; for each stack that was created, what the captures return before and
  inside a child scope, the headers a managed LLM call's provider receives, the raw events and the ``full``
  spans exported for them;
- ``llm_headers``: the ``traceparent``/``tracestate`` headers a managed ``llm.execute`` provider request
  carries in an Agent scope, without and with caller-supplied values;
- ``two_process``: process A (Agent scope, managed LLM call) hands ``capture_propagation_context()`` (and a
  rootless one) to process B, which creates a stack from it and runs a tool; both export ``full`` spans to
  one receiver.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from otel_scenario import OtelNormaliser, OtlpReceiver, flatten  # noqa: E402

#: Fixed identifiers used as inputs; they stay verbatim in the normalised copies.
PARENT = "01958bbf-66d4-7b42-83ef-21c483a37e61"
ROOT = "01958bbf-66d4-7b42-9a2b-0123456789ab"
ZERO = "00000000-0000-0000-0000-000000000000"
ZERO_TAIL = "01958bbf-66d4-7b42-0000-000000000000"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CALLER_TRACEPARENT = "00-11111111111111111111111111111111-2222222222222222-01"
KEEP = (PARENT, ROOT, ZERO, ZERO_TAIL)

CHAT_RESPONSE = {
    "id": "chatcmpl-propagation",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}


class PropagationNormaliser(OtelNormaliser):
    """``OtelNormaliser`` that leaves the fixed input identifiers (``KEEP``), their hex forms and the fixed
    W3C ids of ``TRACEPARENT``/``CALLER_TRACEPARENT`` verbatim."""

    def _uuid_number(self, u: str) -> int:
        if u.lower() in KEEP:
            return 0
        return super()._uuid_number(u)

    def _uuid(self, m: Any) -> str:
        if m.group(0).lower() in KEEP:
            return m.group(0)
        return super()._uuid(m)

    def trace_id(self, h: str) -> str:
        if h.lower() in {u.replace("-", "") for u in KEEP} | {TRACEPARENT[3:35], CALLER_TRACEPARENT[3:35]}:
            return h
        return super().trace_id(h)

    def span_id(self, h: str) -> str:
        keep = {u.replace("-", "")[16:] for u in KEEP} | {TRACEPARENT[36:52], CALLER_TRACEPARENT[36:52]}
        if h.lower() in keep:
            return h
        return super().span_id(h)


def context_dict(ctx: Any) -> dict[str, Any]:
    return {
        "version": ctx.version,
        "root_uuid": ctx.root_uuid,
        "parent_uuid": ctx.parent_uuid,
        "traceparent": ctx.traceparent,
        "tracestate": ctx.tracestate,
        "to_json": ctx.to_json(),
    }


def outcome(fn: Callable[[], Any]) -> dict[str, Any]:
    """``{"result": ...}`` or ``{"error": {"type", "message"}}``; contexts become dicts."""
    import nemo_relay as nr

    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - the exception is the observation
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
    if isinstance(value, nr.PropagationContext):
        value = context_dict(value)
    elif type(value).__name__ == "ScopeStack":
        value = "<ScopeStack>"
    return {"result": value}


def captures(nr: Any) -> dict[str, Any]:
    return {
        "capture_traceparent()": outcome(nr.capture_traceparent),
        "capture_propagation_context()": outcome(nr.capture_propagation_context),
        "capture_rootless_propagation_context()": outcome(nr.capture_rootless_propagation_context),
        "capture_propagation_context_with_root(None)": outcome(lambda: nr.capture_propagation_context_with_root(None)),
        "capture_propagation_context_with_root(ROOT)": outcome(lambda: nr.capture_propagation_context_with_root(ROOT)),
    }


def normalised(case: dict[str, Any]) -> dict[str, Any]:
    return {**case, "normalised": PropagationNormaliser().prime(case["raw"]).value(case["raw"])}


# ---------------------------------------------------------------------------------------------------------------
# capture
# ---------------------------------------------------------------------------------------------------------------


def section_capture(nr: Any) -> list[dict[str, Any]]:
    from nemo_relay.codecs import OpenAIChatCodec

    cases: list[dict[str, Any]] = []

    def fresh() -> None:
        nr.get_scope_stack()
        root = nr.capture_rootless_propagation_context().parent_uuid
        cases.append(
            {
                "name": "fresh_context",
                "where": "fresh context, no scope open",
                "raw": {"implicit_root": root, "captures": captures(nr)},
            }
        )

    contextvars.Context().run(fresh)

    async def scoped() -> None:
        with nr.scope.scope("agent", nr.ScopeType.Agent) as agent:
            cases.append(
                {
                    "name": "agent_scope",
                    "where": "in Agent scope 'agent'",
                    "raw": {"agent": agent.uuid, "captures": captures(nr)},
                }
            )
            with nr.scope.scope("inner", nr.ScopeType.Function) as inner:
                cases.append(
                    {
                        "name": "nested_function_scope",
                        "where": "in Function scope 'inner' in 'agent'",
                        "raw": {"agent": agent.uuid, "inner": inner.uuid, "captures": captures(nr)},
                    }
                )
            seen: dict[str, Any] = {}

            async def provider(req: Any) -> Any:
                seen["headers"] = dict(req.headers)
                seen["captures"] = captures(nr)
                return CHAT_RESPONSE

            events: list[dict[str, Any]] = []
            name = "propagation-capture-events"
            nr.subscribers.register(name, lambda e: events.append(json.loads(e.to_json())))
            try:
                await nr.llm.execute(
                    "openai",
                    nr.LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
                    provider,
                    codec=OpenAIChatCodec(),
                )

                def tool(args: Any) -> Any:
                    seen["tool_captures"] = captures(nr)
                    return nr.ToolExecutionResult({"ok": True})

                await nr.tools.execute("lookup", {"q": 1}, tool, tool_call_id="call-1")
            finally:
                await nr.subscribers.flush_async()
                nr.subscribers.deregister(name)
            llm_uuid = next(e["uuid"] for e in events if e.get("category") == "llm")
            tool_uuid = next(e["uuid"] for e in events if e.get("category") == "tool")
            cases.append(
                {
                    "name": "llm_provider_callback",
                    "where": "inside the provider callback of a managed llm.execute in 'agent'",
                    "raw": {
                        "agent": agent.uuid,
                        "llm": llm_uuid,
                        "provider_headers": seen["headers"],
                        "captures": seen["captures"],
                    },
                }
            )
            cases.append(
                {
                    "name": "tool_callback",
                    "where": "inside the callback of a managed tools.execute in 'agent'",
                    "raw": {"agent": agent.uuid, "tool": tool_uuid, "captures": seen["tool_captures"]},
                }
            )

    contextvars.Context().run(lambda: asyncio.run(scoped()))
    return [normalised(c) for c in cases]


# ---------------------------------------------------------------------------------------------------------------
# context
# ---------------------------------------------------------------------------------------------------------------


def section_context(nr: Any) -> list[dict[str, Any]]:
    PC = nr.PropagationContext
    T = TRACEPARENT
    ctor = [
        ("parent only", lambda: PC(PARENT)),
        ("parent and root", lambda: PC(PARENT, ROOT)),
        ("uppercase uuids", lambda: PC(PARENT.upper(), ROOT.upper())),
        ("simple (undashed) uuid", lambda: PC(PARENT.replace("-", ""))),
        ("braced uuid", lambda: PC("{" + PARENT + "}")),
        ("urn uuid", lambda: PC("urn:uuid:" + PARENT)),
        ("malformed parent", lambda: PC("not-a-uuid")),
        ("malformed root", lambda: PC(PARENT, "not-a-uuid")),
        ("all-zero parent", lambda: PC(ZERO)),
        ("all-zero root", lambda: PC(PARENT, ZERO)),
        ("parent with all-zero tail", lambda: PC(ZERO_TAIL)),
        ("root with all-zero tail", lambda: PC(PARENT, ZERO_TAIL)),
        ("version 0", lambda: PC(PARENT, ROOT, version=0)),
        ("version 2", lambda: PC(PARENT, ROOT, version=2)),
        ("traceparent", lambda: PC(PARENT, ROOT, traceparent=T)),
        ("traceparent and tracestate", lambda: PC(PARENT, ROOT, traceparent=T, tracestate="vendor=a,other=b")),
        ("tracestate without traceparent", lambda: PC(PARENT, ROOT, tracestate="vendor=a")),
        ("rootless with traceparent", lambda: PC(PARENT, None, traceparent=T, tracestate="vendor=a")),
        ("garbage traceparent", lambda: PC(PARENT, ROOT, traceparent="garbage")),
        ("uppercase traceparent", lambda: PC(PARENT, ROOT, traceparent=T.upper())),
        (
            "traceparent all-zero trace id",
            lambda: PC(PARENT, ROOT, traceparent="00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ),
        (
            "traceparent all-zero parent id",
            lambda: PC(PARENT, ROOT, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        ),
        ("traceparent version ff", lambda: PC(PARENT, ROOT, traceparent="ff" + T[2:])),
        ("traceparent version 01 with extra field", lambda: PC(PARENT, ROOT, traceparent="01" + T[2:] + "-extra")),
        ("traceparent version 00 with extra field", lambda: PC(PARENT, ROOT, traceparent=T + "-extra")),
        ("traceparent flags 00", lambda: PC(PARENT, ROOT, traceparent=T[:-2] + "00")),
        ("invalid tracestate", lambda: PC(PARENT, ROOT, traceparent=T, tracestate="bad key=@@")),
        ("empty tracestate", lambda: PC(PARENT, ROOT, traceparent=T, tracestate="")),
        ("tracestate with spaces", lambda: PC(PARENT, ROOT, traceparent=T, tracestate=" vendor=a , other=b ")),
    ]
    cases = []
    for label, fn in ctor:
        cases.append({"name": f"new: {label}", "raw": outcome(fn)})
    traceparent = [
        ("rooted", lambda: PC(PARENT, ROOT).to_traceparent()),
        ("rootless", lambda: PC(PARENT).to_traceparent()),
        ("carrying a traceparent", lambda: PC(PARENT, ROOT, traceparent=T).to_traceparent()),
        ("rootless carrying a traceparent", lambda: PC(PARENT, None, traceparent=T).to_traceparent()),
    ]
    for label, fn in traceparent:
        cases.append({"name": f"to_traceparent: {label}", "raw": outcome(fn)})
    texts = [
        ("minimal", {"version": 1, "parent_uuid": PARENT}),
        ("rooted", {"version": 1, "root_uuid": ROOT, "parent_uuid": PARENT}),
        ("null root", {"version": 1, "parent_uuid": PARENT, "root_uuid": None}),
        ("unknown field", {"version": 1, "parent_uuid": PARENT, "extra": 1}),
        ("missing version", {"parent_uuid": PARENT}),
        ("version 2", {"version": 2, "parent_uuid": PARENT}),
        ("version as string", {"version": "1", "parent_uuid": PARENT}),
        ("missing parent", {"version": 1}),
        ("all-zero parent", {"version": 1, "parent_uuid": ZERO}),
        ("all-zero root", {"version": 1, "parent_uuid": PARENT, "root_uuid": ZERO}),
        ("uppercase parent", {"version": 1, "parent_uuid": PARENT.upper()}),
        (
            "with traceparent and tracestate",
            {"version": 1, "root_uuid": ROOT, "parent_uuid": PARENT, "traceparent": T, "tracestate": "k=v"},
        ),
        ("garbage traceparent", {"version": 1, "parent_uuid": PARENT, "traceparent": "garbage"}),
    ]
    for label, value in texts:
        text = json.dumps(value, separators=(",", ":"))
        cases.append(
            {"name": f"from_json: {label}", "input": text, "raw": outcome(lambda text=text: PC.from_json(text))}
        )
    for label, text in [("not JSON", "not json"), ("array", "[]"), ("empty", "")]:
        cases.append(
            {"name": f"from_json: {label}", "input": text, "raw": outcome(lambda text=text: PC.from_json(text))}
        )
    for label, fn in [
        ("rooted", lambda: PC(PARENT, ROOT).to_json()),
        ("rootless", lambda: PC(PARENT).to_json()),
        ("with traceparent and tracestate", lambda: PC(PARENT, ROOT, traceparent=T, tracestate="vendor=a").to_json()),
    ]:
        cases.append({"name": f"to_json: {label}", "raw": outcome(fn)})
    return [normalised(c) for c in cases]


# ---------------------------------------------------------------------------------------------------------------
# stack and llm_headers
# ---------------------------------------------------------------------------------------------------------------


def _export_full(nr: Any, receiver: OtlpReceiver, body: Callable[[list[dict[str, Any]]], Any]) -> dict[str, Any]:
    """Runs ``body(provider_seen)`` on a fresh context with an event collector and a ``full`` subscriber."""
    receiver.reset()
    subscriber = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", receiver.url))
    lines: list[str] = []
    seen: list[dict[str, Any]] = []
    nr.subscribers.register("propagation-events", lambda e: lines.append(e.to_json()))
    subscriber.register("propagation-otel")
    try:
        extra = contextvars.Context().run(lambda: asyncio.run(body(seen)))
        subscriber.force_flush()
        nr.subscribers.flush()
        receiver.wait(count=1, timeout_ms=5000)
        requests = receiver.requests()
    finally:
        subscriber.deregister("propagation-otel")
        nr.subscribers.deregister("propagation-events")
        subscriber.shutdown()
    spans = [entry["span"] for entry in flatten([{"body": r["decoded"]} for r in requests])]
    return {"extra": extra, "provider": seen, "events": [json.loads(x) for x in lines], "spans": spans}


def _provider(nr: Any, seen: list[dict[str, Any]], label: str) -> Any:
    async def provider(req: Any) -> Any:
        seen.append({"call": label, "headers": dict(req.headers), "captures": captures(nr)})
        return CHAT_RESPONSE

    return provider


def section_stack(nr: Any, receiver: OtlpReceiver) -> list[dict[str, Any]]:
    from nemo_relay.codecs import OpenAIChatCodec

    PC = nr.PropagationContext
    cases: list[dict[str, Any]] = []
    contexts = [
        ("rooted", "PropagationContext(PARENT, ROOT)", lambda: PC(PARENT, ROOT)),
        ("rootless", "PropagationContext(PARENT)", lambda: PC(PARENT)),
        (
            "rooted_with_w3c",
            "PropagationContext(PARENT, ROOT, traceparent=TRACEPARENT, tracestate='vendor=a')",
            lambda: PC(PARENT, ROOT, traceparent=TRACEPARENT, tracestate="vendor=a"),
        ),
        (
            "rootless_with_w3c",
            "PropagationContext(PARENT, None, traceparent=TRACEPARENT, tracestate='vendor=a')",
            lambda: PC(PARENT, None, traceparent=TRACEPARENT, tracestate="vendor=a"),
        ),
        (
            "from_json_rooted",
            "PropagationContext.from_json(json of rooted)",
            lambda: PC.from_json(json.dumps({"version": 1, "root_uuid": ROOT, "parent_uuid": PARENT})),
        ),
        (
            "zero_trace_id_traceparent_dropped",
            "PropagationContext(PARENT, ROOT, traceparent='00-000…0-00f067aa0ba902b7-01') (dropped)",
            lambda: PC(PARENT, ROOT, traceparent="00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ),
    ]
    for name, call, make in contexts:

        async def body(seen: list[dict[str, Any]], make: Any = make) -> Any:
            stack = nr.create_scope_stack_from_propagation(make())
            out: dict[str, Any] = {}
            with nr.use_scope_stack(stack):
                out["before_any_scope"] = captures(nr)
                with nr.scope.scope("child", nr.ScopeType.Function) as child:
                    out["child"] = child.uuid
                    out["in_child"] = captures(nr)
                    await nr.llm.execute(
                        "openai",
                        nr.LLMRequest(
                            {"traceparent": CALLER_TRACEPARENT, "tracestate": "caller=1", "x-request-id": "req-1"},
                            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                        ),
                        _provider(nr, seen, "llm in child"),
                        codec=OpenAIChatCodec(),
                    )
            return out

        run = _export_full(nr, receiver, body)
        cases.append(
            {
                "name": name,
                "call": f"create_scope_stack_from_propagation({call}); use_scope_stack(stack): captures; "
                "scope('child', Function): captures; llm.execute with caller traceparent/tracestate",
                "raw": {
                    "context": outcome(make),
                    "stack": run["extra"],
                    "provider_requests": run["provider"],
                    "events": run["events"],
                    "spans": run["spans"],
                },
            }
        )
    for label, value in [
        ("None", None),
        ("a JSON string", json.dumps({"version": 1, "parent_uuid": PARENT})),
        ("a dict", {"version": 1, "parent_uuid": PARENT}),
    ]:
        cases.append(
            {
                "name": f"not a context: {label}",
                "call": f"create_scope_stack_from_propagation({label})",
                "raw": outcome(lambda value=value: nr.create_scope_stack_from_propagation(value)),
            }
        )
    for label, fn in [
        ("malformed parent", lambda: PC("not-a-uuid")),
        ("all-zero parent", lambda: PC(ZERO)),
        ("all-zero root", lambda: PC(PARENT, ZERO)),
        ("all-zero parent tail", lambda: PC(ZERO_TAIL)),
        ("malformed JSON", lambda: PC.from_json("{")),
        ("all-zero parent JSON", lambda: PC.from_json(json.dumps({"version": 1, "parent_uuid": ZERO}))),
    ]:
        cases.append(
            {
                "name": f"unusable input: {label}",
                "call": "create_scope_stack_from_propagation(<context>): the context itself cannot be built",
                "raw": outcome(lambda fn=fn: nr.create_scope_stack_from_propagation(fn())),
            }
        )
    return [normalised(c) for c in cases]


def section_llm_headers(nr: Any, receiver: OtlpReceiver) -> list[dict[str, Any]]:
    from nemo_relay.codecs import OpenAIChatCodec

    variants = [
        ("no caller headers", {}),
        ("other headers only", {"authorization": "Bearer sk-x", "x-request-id": "req-1"}),
        ("caller traceparent", {"traceparent": CALLER_TRACEPARENT}),
        ("caller traceparent and tracestate", {"traceparent": CALLER_TRACEPARENT, "tracestate": "caller=1,b=2"}),
        ("caller tracestate only", {"tracestate": "caller=1"}),
        ("mixed-case names", {"Traceparent": CALLER_TRACEPARENT, "TraceState": "caller=1"}),
        ("invalid caller traceparent", {"traceparent": "garbage", "tracestate": "caller=1"}),
    ]
    cases = []
    for label, headers in variants:

        async def body(seen: list[dict[str, Any]], headers: dict[str, str] = headers, label: str = label) -> Any:
            with nr.scope.scope("agent", nr.ScopeType.Agent) as agent:
                await nr.llm.execute(
                    "openai",
                    nr.LLMRequest(
                        dict(headers), {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
                    ),
                    _provider(nr, seen, label),
                    codec=OpenAIChatCodec(),
                )
                return {"agent": agent.uuid}

        run = _export_full(nr, receiver, body)
        llm = next(e["uuid"] for e in run["events"] if e.get("category") == "llm")
        cases.append(
            {
                "name": label,
                "call": "scope('agent', Agent): llm.execute('openai', LLMRequest(headers, ...), provider)",
                "caller_headers": headers,
                "raw": {
                    "agent": run["extra"]["agent"],
                    "llm": llm,
                    "provider_headers": run["provider"][0]["headers"],
                    "spans": [
                        {
                            "name": s["name"],
                            "traceId": s["traceId"],
                            "spanId": s["spanId"],
                            "parentSpanId": s.get("parentSpanId"),
                        }
                        for s in run["spans"]
                    ],
                },
            }
        )
    return [normalised(c) for c in cases]


# ---------------------------------------------------------------------------------------------------------------
# two_process
# ---------------------------------------------------------------------------------------------------------------


def child_main(url: str) -> int:
    """Process B: reads {"label", "context"} lines on stdin, runs a tool under each, prints one JSON result."""
    import nemo_relay as nr

    subscriber = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", url))
    lines: list[str] = []
    nr.subscribers.register("child-events", lambda e: lines.append(e.to_json()))
    subscriber.register("child-otel")
    results = []
    for line in sys.stdin:
        job = json.loads(line)

        async def body(job: dict[str, Any] = job) -> Any:
            context = nr.PropagationContext.from_json(job["context"])
            stack = nr.create_scope_stack_from_propagation(context)
            with nr.use_scope_stack(stack):
                with nr.scope.scope("remote-worker", nr.ScopeType.Function, input={"job": job["label"]}) as worker:
                    got = captures(nr)
                    await nr.tools.execute(
                        "lookup", {"q": job["label"]}, lambda a: nr.ToolExecutionResult({"hit": a["q"]})
                    )
                    return {"label": job["label"], "worker": worker.uuid, "captures_in_worker": got}

        results.append(contextvars.Context().run(lambda: asyncio.run(body())))
    subscriber.force_flush()
    nr.subscribers.flush()
    subscriber.deregister("child-otel")
    nr.subscribers.deregister("child-events")
    subscriber.shutdown()
    json.dump({"jobs": results, "events": [json.loads(x) for x in lines]}, sys.stdout)
    return 0


def section_two_process(nr: Any, receiver: OtlpReceiver) -> dict[str, Any]:
    from nemo_relay.codecs import OpenAIChatCodec

    receiver.reset()
    subscriber = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", receiver.url))
    lines: list[str] = []
    nr.subscribers.register("a-events", lambda e: lines.append(e.to_json()))
    subscriber.register("a-otel")
    handoff: dict[str, Any] = {}

    async def body() -> Any:
        with nr.scope.scope("frontend-agent", nr.ScopeType.Agent, metadata={"session_id": "session-2p"}) as agent:

            async def provider(req: Any) -> Any:
                rooted = nr.capture_propagation_context()
                rootless = nr.capture_rootless_propagation_context()
                jobs = [
                    {"label": "rooted", "context": rooted.to_json()},
                    {"label": "rootless", "context": rootless.to_json()},
                ]
                child = subprocess.run(
                    [sys.executable, __file__, "--child", receiver.url],
                    input="".join(json.dumps(j) + "\n" for j in jobs),
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                if child.returncode != 0:
                    raise RuntimeError(f"process B failed: {child.stderr}")
                handoff.update(
                    {"provider_headers": dict(req.headers), "sent": jobs, "process_b": json.loads(child.stdout)}
                )
                return CHAT_RESPONSE

            await nr.llm.execute(
                "openai",
                nr.LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "delegate"}]}),
                provider,
                codec=OpenAIChatCodec(),
            )
            return agent.uuid

    try:
        agent = contextvars.Context().run(lambda: asyncio.run(body()))
        subscriber.force_flush()
        nr.subscribers.flush()
        receiver.wait(count=2, timeout_ms=5000)
        requests = receiver.requests()
    finally:
        subscriber.deregister("a-otel")
        nr.subscribers.deregister("a-events")
        subscriber.shutdown()
    events_a = [json.loads(x) for x in lines]
    llm = next(e["uuid"] for e in events_a if e.get("category") == "llm")
    spans = []
    for r in requests:
        for entry in flatten([{"body": r["decoded"]}]):
            spans.append(
                {
                    "request": r["index"],
                    "user_agent": {k.lower(): v for k, v in r["headers"]}.get("user-agent"),
                    **entry["span"],
                }
            )
    raw = {
        "agent": agent,
        "llm": llm,
        "provider_headers": handoff["provider_headers"],
        "sent_to_b": handoff["sent"],
        "process_b_jobs": handoff["process_b"]["jobs"],
        "events_a": events_a,
        "events_b": handoff["process_b"]["events"],
        "spans": spans,
        "links": [
            {
                "name": s["name"],
                "traceId": s["traceId"],
                "spanId": s["spanId"],
                "parentSpanId": s.get("parentSpanId"),
                "flags": s.get("flags"),
                "request": s["request"],
            }
            for s in spans
        ],
    }
    return {
        "description": (
            "Process A: scope('frontend-agent', Agent, metadata={'session_id': 'session-2p'}) -> managed "
            "llm.execute whose provider captures capture_propagation_context() and "
            "capture_rootless_propagation_context(), hands both (to_json) to process B (a subprocess) and waits. "
            "Process B, per context: from_json -> create_scope_stack_from_propagation -> use_scope_stack -> "
            "scope('remote-worker', Function) -> tools.execute('lookup'); then force_flush. Both export 'full' "
            "to the same receiver (B's request arrives first)."
        ),
        "raw": raw,
        "normalised": PropagationNormaliser().prime(raw).value(raw),
    }


def run(receiver: OtlpReceiver) -> dict[str, Any]:
    import nemo_relay as nr

    return {
        "capture": section_capture(nr),
        "context": section_context(nr),
        "stack": section_stack(nr, receiver),
        "llm_headers": section_llm_headers(nr, receiver),
        "two_process": section_two_process(nr, receiver),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child_main(argv[1])
    with OtlpReceiver() as receiver:
        result = run(receiver)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
