# SPDX-License-Identifier: Apache-2.0
"""One fixed agent run exported by ``OpenTelemetrySubscriber`` to a loopback OTLP receiver, plus the normaliser.

The run uses only the public ``nemo_relay`` surface of the reference package (``nemo-relay`` on PyPI), and the
receiver is ``Tests/support/otlp_receiver.py`` (needs ``opentelemetry-proto`` and ``protobuf``)::

    python otel_scenario.py [CONFIG ...]   # prints {CONFIG: vector, ...} (see ``vector``)

``scripts/capture_otel_vectors.sh`` runs it under the reference to produce ``Tests/vectors/otel.json``.

Every configuration runs the same scenario on a fresh context with two subscribers registered: a plain one
collecting the raw ATOF events (``event.to_json()``, exactly as emitted) and the ``OpenTelemetrySubscriber``
under test, pointed at the receiver. After ``force_flush()`` the receiver's decoded requests are kept in the
OTLP/JSON form (hex ids, integer enums, 64-bit integers as decimal strings), so a projection can be tested as
a pure function from the events to the spans.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exporter_scenario import UUID_RE, AgentRun, Normaliser  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
RECEIVER = REPO / "Tests" / "support" / "otlp_receiver.py"

DESCRIPTION = (
    "One agent run on a fresh context, observed by a plain subscriber (raw ATOF events) and by one "
    "OpenTelemetrySubscriber exporting OTLP/HTTP protobuf to a loopback receiver: an Agent scope with "
    "session/user/agent-kind and app.* metadata; a mark with data and metadata; a metric mark "
    "(scope.metric, data_schema nemo.relay.metric_measurements); an OpenAI Chat call answered with a tool "
    "call (usage 120/18, cached 32); the managed tool call; a second call answered with text; a mark; a "
    "call whose provider raises ConnectionError; a Function scope whose body raises ValueError; a streamed "
    "call; a nested sub-agent with one call; a final mark; after the agent closed, a mark with no open "
    "parent (orphan). Then force_flush()."
)

#: What the run does, in order (mirrors ``_run``).
CALLS = [
    (
        "scope('demo-agent', Agent, input={'task': 'weather report'}, metadata={'session_id': 'session-1', "
        "'user_id': 'user-7', 'agent_kind': 'planner', 'app.tenant': 'acme', 'app.tier': 2, "
        "'app.tags': ['a', 'b']})"
    ),
    "event('plan-ready', data={'steps': 3, 'plan': {'first': 'weather'}}, metadata={'app.step': 1})",
    "metric('token-budget', [MetricMeasurement('tokens.remaining', Gauge, I64, 4000, unit='{token}')])",
    (
        "llm.execute('openai', <system+user+tools>, metadata={'app.call': 'first'}, "
        "codec=response_codec=OpenAIChatCodec) -> tool call call_weather_1"
    ),
    "tools.execute('get_weather', {'city': 'Paris'}, tool_call_id='call_weather_1') -> annotated result",
    "llm.execute('openai', <history + tool message>) -> text",
    "event('answer-ready', metadata={'confidence': 'high'})",
    "llm.execute('openai', <new user turn>) whose provider raises ConnectionError('upstream unavailable')",
    "scope('validate', Function) whose body raises ValueError('bad plan') (caught outside)",
    "llm.stream_execute('openai', <new user turn, stream>) with 4 chat.completion.chunk chunks",
    "scope('research-subagent', Agent) with one llm.execute -> text",
    "event('run-finished')",
    "(agent closed) event('post-run', data={'late': True})",
    "subscriber.force_flush()",
]

#: The configurations: name -> (OpenTelemetryConfig type, attribute overrides, environment for the run).
CONFIGS: dict[str, dict[str, Any]] = {
    "full": {"type": "full", "options": {}},
    "gen_ai": {"type": "gen_ai", "options": {}},
    "openinference": {"type": "openinference", "options": {}},
    "full_mark_event": {"type": "full", "options": {"mark_projection": "event"}},
    "full_mark_tool": {"type": "full", "options": {"mark_projection": "tool"}},
    "openinference_mark_tool": {"type": "openinference", "options": {"mark_projection": "tool"}},
    "full_custom": {
        "type": "full",
        "options": {
            "service_name": "demo-service",
            "service_namespace": "demo",
            "service_version": "1.2.3",
            "instrumentation_scope": "demo-scope",
            "resource_attributes": {"deployment.environment": "test", "host.name": "golden-host"},
            "headers": {"x-api-key": "k-123", "X-Tenant": "acme"},
            "header_env": {"authorization": "OTEL_SCENARIO_AUTH"},
            "attribute_mappings": [
                {"key": "nemo_relay.model_name", "alias": "app.model"},
                {"key": "session.id", "alias": "app.session"},
                {"key": "nemo_relay.mark.data.steps", "alias": "app.mark_steps"},
            ],
            "promote_metadata_prefixes": ["app."],
        },
        "env": {"OTEL_SCENARIO_AUTH": "Bearer env-token"},
    },
    "openinference_custom": {
        "type": "openinference",
        "options": {
            "attribute_mappings": [{"key": "llm.model_name", "alias": "app.model"}],
            "promote_metadata_prefixes": ["app."],
        },
    },
}

METRIC_NAME = "token-budget"


# ---------------------------------------------------------------------------------------------------------------
# Receiver client
# ---------------------------------------------------------------------------------------------------------------


class OtlpReceiver:
    """Runs ``otlp_receiver.py`` as a child process and talks to its control API."""

    def __init__(self, script: Any = None, python: str | None = None, idle_timeout: float = 120.0) -> None:
        args = [python or sys.executable, str(RECEIVER), "--idle-timeout", str(idle_timeout)]
        if script is not None:
            args += ["--script", json.dumps(script)]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = json.loads(self.process.stdout.readline())
        if ready.get("type") != "ready":
            raise RuntimeError(f"receiver did not start: {ready!r}")
        self.port = ready["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=60) as response:
            return json.loads(response.read())

    def post(self, path: str, value: Any = None) -> Any:
        data = b"" if value is None else json.dumps(value).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def requests(self, **query: Any) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return self.get("/__control/requests" + (f"?{qs}" if qs else ""))["requests"]

    def wait(self, count: int = 0, spans: int = 0, timeout_ms: int = 5000) -> dict[str, Any]:
        return self.get(f"/__control/wait?count={count}&spans={spans}&timeout_ms={timeout_ms}")

    def spans(self) -> list[dict[str, Any]]:
        return self.get("/__control/spans")["spans"]

    def reset(self) -> None:
        self.post("/__control/reset")

    def script(self, actions: Any) -> None:
        self.post("/__control/script", actions)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------


def make_config(nr: Any, otel_type: str, endpoint: str, options: dict[str, Any]) -> Any:
    """An ``OpenTelemetryConfig`` with ``options`` applied attribute by attribute."""
    config = nr.OpenTelemetryConfig(otel_type, endpoint)
    for key, value in options.items():
        setattr(config, key, value)
    return config


async def _run(nr: Any, provider_requests: list[dict[str, Any]]) -> None:
    """The agent run itself; ``provider_requests`` gets the headers each provider callback saw."""
    scope = nr.scope

    def seen(label: str, req: Any) -> None:
        provider_requests.append({"call": label, "headers": dict(req.headers)})

    run = AgentRun(nr, seen)
    metadata = {
        "session_id": "session-1",
        "user_id": "user-7",
        "agent_kind": "planner",
        "app.tenant": "acme",
        "app.tier": 2,
        "app.tags": ["a", "b"],
    }
    with scope.scope("demo-agent", nr.ScopeType.Agent, input={"task": "weather report"}, metadata=metadata):
        scope.event("plan-ready", data={"steps": 3, "plan": {"first": "weather"}}, metadata={"app.step": 1})
        scope.metric(
            METRIC_NAME,
            [
                nr.MetricMeasurement(
                    "tokens.remaining", nr.MetricKind.Gauge, nr.MetricValueType.I64, 4000, unit="{token}"
                )
            ],
        )
        await run.first_call(metadata={"app.call": "first"})
        history = await run.tool_answer_failure()

        try:
            with scope.scope("validate", nr.ScopeType.Function, input={"plan": "weather"}):
                raise ValueError("bad plan")
        except ValueError:
            pass

        await run.stream_subagent_finish(history)
    scope.event("post-run", data={"late": True})


def run_config(nr: Any, receiver: OtlpReceiver, name: str) -> dict[str, Any]:
    """Runs the scenario once for configuration ``name``; returns events, requests and provider headers."""
    spec = CONFIGS[name]
    receiver.reset()
    saved = {k: os.environ.get(k) for k in spec.get("env", {})}
    os.environ.update(spec.get("env", {}))
    try:
        config = make_config(nr, spec["type"], receiver.url, spec["options"])
        subscriber = nr.OpenTelemetrySubscriber(config)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    lines: list[str] = []
    provider_requests: list[dict[str, Any]] = []
    events_name = f"otel-scenario-events-{name}"
    otel_name = f"otel-scenario-{name}"
    nr.subscribers.register(events_name, lambda e: lines.append(e.to_json()))
    subscriber.register(otel_name)
    try:
        contextvars.Context().run(lambda: asyncio.run(_run(nr, provider_requests)))
        subscriber.force_flush()
        nr.subscribers.flush()
        waited = receiver.wait(count=1, timeout_ms=5000)
        if waited["timed_out"]:
            raise RuntimeError(f"{name}: no export request arrived")
        requests = receiver.requests()
        diagnostics = [
            {"code": d.code, "message": d.message, "count": d.count} for d in subscriber.runtime_diagnostics().entries
        ]
    finally:
        subscriber.deregister(otel_name)
        nr.subscribers.deregister(events_name)
        subscriber.shutdown()
    for r in requests:
        if r["decode_error"]:
            raise RuntimeError(f"{name}: request {r['index']} did not decode: {r['decode_error']}")
    return {
        "config": {"type": spec["type"], **spec["options"]},
        "env": spec.get("env", {}),
        "events": [json.loads(line) for line in lines],
        "requests": [
            {
                "method": r["method"],
                "path": r["path"],
                "headers": r["headers"],
                "body": r["decoded"],
            }
            for r in requests
        ],
        "provider_requests": provider_requests,
        "runtime_diagnostics": diagnostics,
    }


def consistent(events: list[dict[str, Any]]) -> bool:
    """Every end event carries its start event's propagation_root_uuid (the reference's stream pump
    sometimes stamps the thread root instead; see Tests/vectors/exporters.json)."""
    starts = {e["uuid"]: e for e in events if e.get("scope_category") == "start"}
    return all(
        e.get("propagation_root_uuid") == starts[e["uuid"]].get("propagation_root_uuid")
        for e in events
        if e.get("scope_category") == "end" and e["uuid"] in starts
    )


def run(names: list[str], receiver: OtlpReceiver, attempts: int = 20) -> dict[str, Any]:
    """Runs every configuration in ``names`` (rerunning one whose events are inconsistent)."""
    import nemo_relay as nr

    out = {}
    for name in names:
        for attempt in range(1, attempts + 1):
            result = run_config(nr, receiver, name)
            if consistent(result["events"]):
                break
            print(f"{name}: attempt {attempt}: inconsistent propagation_root_uuid; running again", file=sys.stderr)
        else:
            raise RuntimeError(f"{name}: no consistent run in {attempts} attempts")
        out[name] = result
    return out


# ---------------------------------------------------------------------------------------------------------------
# Spans and normalisation
# ---------------------------------------------------------------------------------------------------------------


def flatten(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resource, scope and spans of decoded requests: ``[{"resource", "scope", "span"}]`` in arrival order."""
    out = []
    for r in requests:
        for rs in (r["body"] or {}).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    out.append({"resource": rs.get("resource", {}), "scope": ss.get("scope", {}), "span": span})
    return out


HEX32_KEYS = ("traceId",)
HEX16_KEYS = ("spanId", "parentSpanId")
NANO_KEYS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano")
TRACEPARENT_RE = re.compile(r"\b([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})\b")


class OtelNormaliser(Normaliser):
    """``exporter_scenario.Normaliser`` extended to OTLP/JSON spans, numbering consistently with the events.

    - uuids -> ``<uuid:N>`` and RFC 3339 timestamps -> ``<ts:N>`` as in the base class;
    - a ``traceId`` (32 hex digits) is a uuid's 16 bytes -> ``<trace:uuid:N>`` (numbered like that uuid);
    - a ``spanId``/``parentSpanId`` (16 hex digits) equal to bytes 8..16 of a uuid seen so far ->
      ``<span:uuid:N>``; any other -> ``<span:K>`` (K by first appearance);
    - ``*TimeUnixNano`` decimal strings -> ``<ts:N>``, numbered by instant together with the RFC 3339
      timestamps (a span starting at its start event's timestamp gets the same N);
    - W3C ``traceparent`` values inside strings -> ``VV-<trace:...>-<span:...>-FF``;
    - attribute values whose key ends with ``time_to_first_chunk`` -> ``{"doubleValue": "<seconds>"}``.
    """

    def __init__(self, root: str | None = None) -> None:
        super().__init__(root)
        self.other_spans: dict[str, int] = {}

    def prime(self, doc: Any) -> OtelNormaliser:
        """Numbers every dashed uuid of ``doc`` in document order without replacing anything, so a span id
        seen before the uuid it derives from still resolves to it; returns ``self``."""
        if isinstance(doc, dict):
            for x in doc.values():
                self.prime(x)
        elif isinstance(doc, list):
            for x in doc:
                self.prime(x)
        elif isinstance(doc, str):
            for m in UUID_RE.finditer(doc):
                self._uuid_number(m.group(0))
        return self

    def _uuid_number(self, u: str) -> int:
        u = u.lower()
        self.uuids.setdefault(u, len(self.uuids) + 1)
        return self.uuids[u]

    def trace_id(self, h: str) -> str:
        h = h.lower()
        if len(h) != 32:
            return f"<bad-trace-id {h}>"
        u = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return f"<trace:uuid:{self._uuid_number(u)}>"

    def span_id(self, h: str) -> str:
        h = h.lower()
        for u, n in self.uuids.items():
            if u.replace("-", "")[16:] == h:
                return f"<span:uuid:{n}>"
        self.other_spans.setdefault(h, len(self.other_spans) + 1)
        return f"<span:{self.other_spans[h]}>"

    def nanos(self, text: str) -> str:
        ns = int(text)
        seconds, frac = divmod(ns, 1_000_000_000)
        base = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None).isoformat()
        key = (base, frac)
        self.stamps.setdefault(key, len(self.stamps) + 1)
        return f"<ts:{self.stamps[key]}>"

    def text(self, s: str) -> str:
        s = TRACEPARENT_RE.sub(lambda m: f"{m[1]}-{self.trace_id(m[2])}-{self.span_id(m[3])}-{m[4]}", s)
        return super().text(s)

    def value(self, v: Any, key: str | None = None) -> Any:
        if isinstance(v, str):
            if key in HEX32_KEYS:
                return self.trace_id(v)
            if key in HEX16_KEYS:
                return self.span_id(v)
            if key in NANO_KEYS and v.isdigit():
                return self.nanos(v)
        if isinstance(v, dict) and isinstance(v.get("key"), str) and v["key"].endswith("time_to_first_chunk"):
            return {"key": v["key"], "value": {kind: "<seconds>" for kind in v.get("value", {})}}
        return super().value(v, key)


VOLATILE_HEADERS = {"host": "127.0.0.1:<port>", "content-length": "<length>"}


def vector(result: dict[str, Any]) -> dict[str, Any]:
    """One configuration's vector: the raw events and spans as captured, then one normalised copy of both.

    The decoded requests must hold one ``resourceSpans`` with one ``scopeSpans`` each, all with the same
    resource and scope (the reference sends them that way); ``resource``/``scope`` are kept once.
    """
    flat = flatten(result["requests"])
    resources = {json.dumps(f["resource"], sort_keys=True) for f in flat}
    scopes = {json.dumps(f["scope"], sort_keys=True) for f in flat}
    for r in result["requests"]:
        rs = (r["body"] or {}).get("resourceSpans", [])
        if len(rs) != 1 or len(rs[0].get("scopeSpans", [])) != 1:
            raise RuntimeError("expected one resourceSpans with one scopeSpans per request")
    if len(resources) != 1 or len(scopes) != 1:
        raise RuntimeError("spans of one run carry different resources or scopes")
    resource = dict(flat[0]["resource"])
    # The reference builds the resource from a hash map: its attribute order changes from run to run.
    resource_sorted = {**resource, "attributes": sorted(resource.get("attributes", []), key=lambda a: a["key"])}
    spans = [f["span"] for f in flat]
    requests = [
        {
            "method": r["method"],
            "path": r["path"],
            # Sorted: the reference sends configured headers in hash-map order.
            "headers": sorted([k, VOLATILE_HEADERS.get(k.lower(), v)] for k, v in r["headers"]),
            "spans": sum(len(ss.get("spans", [])) for rs in r["body"]["resourceSpans"] for ss in rs["scopeSpans"]),
        }
        for r in result["requests"]
    ]
    raw = {"events": result["events"], "spans": spans, "provider_requests": result["provider_requests"]}
    norm = OtelNormaliser().prime(raw)
    return {
        "config": result["config"],
        "env": result["env"],
        "requests": requests,
        "runtime_diagnostics": result["runtime_diagnostics"],
        "resource": resource_sorted,
        "scope": flat[0]["scope"],
        "events_raw": result["events"],
        "spans_raw": spans,
        "provider_requests_raw": result["provider_requests"],
        "events": norm.value(result["events"]),
        "spans": norm.value(spans),
        "provider_requests": norm.value(result["provider_requests"]),
    }


def main(argv: list[str]) -> int:
    names = argv or list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"unknown configurations {unknown}; known: {list(CONFIGS)}", file=sys.stderr)
        return 2
    with OtlpReceiver() as receiver:
        result = run(names, receiver)
    json.dump({name: vector(r) for name, r in result.items()}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
