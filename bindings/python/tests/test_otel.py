# SPDX-License-Identifier: Apache-2.0
"""OpenTelemetry export: the reference's scenario through a real OTLP receiver (spans equal the reference's
after normalisation), the configuration surface, and delivery under 429/503/400/partial success/dropped
connections/hangs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import nemo_relay as nr
from conftest import load_vectors, run_fresh
from nemo_relay import scope

pytest.importorskip("opentelemetry.proto", reason="the OTLP receiver decodes with opentelemetry-proto")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import otel_scenario  # noqa: E402

CONFIGS = list(otel_scenario.CONFIGS)


@pytest.fixture(scope="module")
def receiver() -> Any:
    with otel_scenario.OtlpReceiver(idle_timeout=300) as r:
        yield r


def resource_attrs(resource: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: a["value"] for a in resource.get("attributes", [])}


@pytest.mark.parametrize("name", CONFIGS)
def test_scenario_spans_equal_the_reference(receiver: Any, name: str) -> None:
    vector = load_vectors("otel.json")["configurations"][name]
    result = otel_scenario.run_config(nr, receiver, name)
    ours = otel_scenario.vector(result)
    assert ours["spans"] == vector["spans"]
    assert ours["events"] == vector["events"]
    # service.* and configured resource attributes as the reference; telemetry.sdk.* names this SDK.
    mine, theirs = resource_attrs(ours["resource"]), resource_attrs(vector["resource"])
    for key, value in theirs.items():
        if not key.startswith("telemetry.sdk."):
            assert mine.get(key) == value, key
    assert ours["scope"] == vector["scope"]
    assert [r["path"] for r in ours["requests"]] == [r["path"] for r in vector["requests"]]
    for r in ours["requests"]:
        headers = {k.lower(): v for k, v in r["headers"]}
        assert headers["content-type"] == "application/x-protobuf"
        for k, v in vector["requests"][0]["headers"]:
            if k.lower() not in ("user-agent", "host", "content-length", "accept"):
                assert headers.get(k.lower()) == v, k


# ---- configuration surface ------------------------------------------------------------------------


def test_config_defaults_and_messages() -> None:
    c = nr.OpenTelemetryConfig("full", "http://127.0.0.1:9")
    assert (c.transport, c.type, c.service_name, c.instrumentation_scope) == (
        "http_binary",
        "full",
        "unknown_service",
        "opentelemetry",
    )
    assert (c.timeout_millis, c.completed_span_context_ttl_millis, c.mark_projection) == (3000, 60000, "inherit")
    assert c.mark_exclude_names == ["llm.chunk"] and c.headers == {} and c.attribute_mappings == []
    with pytest.raises(OverflowError):
        c.timeout_millis = -1

    def fails(**changes: Any) -> BaseException:
        cfg = nr.OpenTelemetryConfig("full", "http://127.0.0.1:9")
        for k, v in changes.items():
            setattr(cfg, k, v)
        with pytest.raises((ValueError, RuntimeError)) as info:
            nr.OpenTelemetrySubscriber(cfg)
        return info.value

    e = fails(type="bogus")
    assert isinstance(e, ValueError) and str(e) == "type must be 'full', 'gen_ai', or 'openinference', got \"bogus\""
    assert str(fails(transport="x")) == "transport must be 'http_binary' or 'grpc', got \"x\""
    assert str(fails(endpoint="  ")) == "endpoint is required and must be nonblank"
    assert "unknown variant `Tool`" in str(fails(mark_projection="Tool"))
    assert "require HTTPS" in str(fails(endpoint="http://example.com:4318"))
    assert "TLS is not supported" in str(fails(endpoint="https://example.com:4318"))
    assert "must be unique ignoring ASCII case" in str(fails(headers={"X-A": "1", "x-a": "2"}))
    assert str(fails(attribute_mappings=[{"key": "a", "alias": ""}])) == "attribute mapping alias must not be blank"
    with pytest.raises(TypeError):
        nr.OpenTelemetrySubscriber("full")  # type: ignore[arg-type]


def test_process_wide_otlp_headers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=secret")
    with pytest.raises(RuntimeError, match="OTEL_EXPORTER_OTLP_HEADERS is not supported"):
        nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", "http://127.0.0.1:9"))


# ---- delivery ------------------------------------------------------------------------------------


def one_agent(name: str = "agent") -> None:
    with scope.scope(name, nr.ScopeType.Agent):
        with scope.scope("step", nr.ScopeType.Function):
            pass


def subscriber(receiver: Any, **options: Any) -> nr.OpenTelemetrySubscriber:
    cfg = nr.OpenTelemetryConfig("full", receiver.url)
    for k, v in options.items():
        setattr(cfg, k, v)
    s = nr.OpenTelemetrySubscriber(cfg)
    return s


def test_one_trace_per_agent_with_parent_links(receiver: Any) -> None:
    receiver.reset()

    def body() -> None:
        s = subscriber(receiver)
        s.register("otel-trace")
        try:
            one_agent()
            s.force_flush()
        finally:
            s.shutdown()

    run_fresh(body)
    spans = [f["span"] for f in otel_scenario.flatten([{"body": r["decoded"]} for r in receiver.requests()])]
    by_name = {s["name"]: s for s in spans}
    agent, step = by_name["agent"], by_name["step"]
    assert agent["traceId"] == step["traceId"] and len(agent["traceId"]) == 32
    assert step["parentSpanId"] == agent["spanId"] and not agent.get("parentSpanId")
    assert receiver.requests()[0]["path"] == "/v1/traces"


def test_retryable_answers_are_retried_and_nothing_is_lost(receiver: Any) -> None:
    receiver.reset()
    receiver.script([{"status": 429, "retry_after": "1"}, {"status": 503}, {"drop": True}])

    def body() -> None:
        s = subscriber(receiver)
        s.register("otel-retry")
        try:
            one_agent()
            start = time.monotonic()
            s.force_flush()
            assert time.monotonic() - start >= 0.9  # Retry-After: 1 honoured
            assert s.runtime_diagnostics().entries == []
        finally:
            s.shutdown()

    run_fresh(body)
    reqs = receiver.requests()
    assert len(reqs) >= 3
    assert sum(1 for r in reqs if r["action"].get("status", 200) == 200 and not r["action"].get("drop")) >= 1


def test_a_rejected_batch_is_not_retried_and_is_reported(receiver: Any) -> None:
    receiver.reset()
    receiver.script([{"status": 400}])

    def body() -> None:
        s = subscriber(receiver)
        s.register("otel-400")
        try:
            one_agent()
            with pytest.raises(RuntimeError, match="OpenTelemetry trace export to http://127.0.0.1"):
                s.force_flush()
            assert len(receiver.requests()) == 1
            d = s.runtime_diagnostics().get("otel.traces_export_failed")
            assert d is not None and d.count == 1
            one_agent("second")
            s.force_flush()  # recovered: a later export succeeded
        finally:
            s.shutdown()

    run_fresh(body)


def test_gzip_bodies_arrive_compressed_and_decode(receiver: Any) -> None:
    for transport in ("http_binary", "http_json"):
        receiver.reset()

        def body() -> None:
            s = subscriber(receiver, compression="gzip", transport=transport)
            s.register("otel-gzip")
            try:
                one_agent("zipped")
                s.force_flush()
            finally:
                s.shutdown()

        run_fresh(body)
        (req,) = receiver.requests()
        assert req["content_encoding"] == "gzip" and not req["decode_error"]
        names = [sp["name"] for rs in req["decoded"]["resourceSpans"] for ss in rs["scopeSpans"] for sp in ss["spans"]]
        assert sorted(names) == ["step", "zipped"]
    with pytest.raises(ValueError, match="compression must be 'none' or 'gzip'"):
        subscriber(receiver, compression="br")


def test_partial_success_counts_and_is_not_retried(receiver: Any) -> None:
    receiver.reset()
    receiver.script([{"partial_success": {"rejected_spans": 1, "error_message": "too big"}}])

    def body() -> None:
        s = subscriber(receiver)
        s.register("otel-partial")
        try:
            one_agent()
            s.force_flush()
            assert s.diagnostics()["spans_rejected"] == 1
        finally:
            s.shutdown()

    run_fresh(body)
    assert len(receiver.requests()) == 1


def test_a_hung_collector_never_slows_the_agent_and_shutdown_is_bounded(receiver: Any) -> None:
    receiver.reset()
    receiver.script({"script": [], "default": {"hang_ms": 20000}})

    def body() -> None:
        s = subscriber(receiver, timeout_millis=300)
        s.register("otel-hang")
        start = time.monotonic()
        for _ in range(300):
            one_agent()
        assert time.monotonic() - start < 5
        t0 = time.monotonic()
        with pytest.raises(RuntimeError):
            s.shutdown()
        assert time.monotonic() - t0 < 35

    run_fresh(body)
    receiver.script({"script": [], "default": {"status": 200}})


def test_file_sink_writes_otlp_json_lines(tmp_path: Path) -> None:
    def body() -> None:
        cfg = nr.OpenTelemetryFileSinkConfig("gen_ai", str(tmp_path), filename="spans.jsonl")
        cfg.service_name = "svc"
        s = nr.OpenTelemetrySubscriber(cfg)
        s.register("otel-file")
        try:
            one_agent()
            s.force_flush()
        finally:
            s.shutdown()

    run_fresh(body)
    lines = (tmp_path / "spans.jsonl").read_text().splitlines()
    assert len(lines) >= 1
    request = json.loads(lines[0])
    rs = request["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "svc"}} in rs["resource"]["attributes"]
    names = [sp["name"] for sp in rs["scopeSpans"][0]["spans"]]
    assert "invoke_agent agent" in names
    with pytest.raises(ValueError, match="filename must be a single path component"):
        nr.OpenTelemetrySubscriber(nr.OpenTelemetryFileSinkConfig("full", str(tmp_path), filename="a/b.jsonl"))


# ---- two processes, one trace -----------------------------------------------------------------------

_CHILD = r"""
import asyncio, sys
import nemo_relay as nr

endpoint, context = sys.argv[1], sys.stdin.read()
config = nr.OpenTelemetryConfig("full", endpoint)
if len(sys.argv) > 2:
    config.service_name = sys.argv[2]
s = nr.OpenTelemetrySubscriber(config)
s.register("child-otel")
stack = nr.create_scope_stack_from_propagation(nr.PropagationContext.from_json(context))

async def main():
    with nr.use_scope_stack(stack):
        with nr.scope.scope("worker", nr.ScopeType.Agent):
            await nr.tools.execute("lookup", {"q": 1}, lambda args: {"ok": True})

asyncio.run(main())
s.force_flush()
s.shutdown()
"""


def test_two_processes_produce_one_trace(receiver: Any) -> None:
    """Process A (this one) runs an agent whose LLM provider hands its propagation context to process B;
    both export to one collector: B's spans continue A's trace under A's LLM span, nothing is orphaned."""
    import asyncio
    import os
    import subprocess

    receiver.reset()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    def body() -> None:
        s = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", receiver.url))
        s.register("parent-otel")

        async def run() -> None:
            with scope.scope("frontend", nr.ScopeType.Agent):

                async def provider(req: Any) -> Any:
                    child = await asyncio.to_thread(
                        subprocess.run,
                        [sys.executable, "-c", _CHILD, receiver.url],
                        input=nr.capture_propagation_context().to_json(),
                        capture_output=True,
                        text=True,
                        timeout=120,
                        env=env,
                    )
                    assert child.returncode == 0, child.stderr
                    return {"choices": [{"message": {"role": "assistant", "content": "done"}}]}

                await nr.llm.execute(
                    "openai", nr.LLMRequest({}, {"model": "m", "messages": [{"role": "user", "content": "go"}]}), provider
                )

        try:
            asyncio.run(run())
            s.force_flush()
        finally:
            s.shutdown()

    run_fresh(body)
    assert_one_trace(receiver.spans())


def assert_one_trace(exported: list[dict[str, Any]]) -> None:
    """A's ``frontend`` agent and its ``openai`` LLM span, B's ``worker`` and its ``lookup`` tool: one trace,
    B's first span under A's LLM span (a remote parent), nothing orphaned."""
    spans = [e["span"] for e in exported]
    assert sorted(sp["name"] for sp in spans) == ["frontend", "lookup", "openai", "worker"]
    by_name = {sp["name"]: sp for sp in spans}
    frontend, llm, worker, tool = by_name["frontend"], by_name["openai"], by_name["worker"], by_name["lookup"]
    assert {sp["traceId"] for sp in spans} == {frontend["traceId"]}  # one trace
    assert not frontend.get("parentSpanId")
    assert llm["parentSpanId"] == frontend["spanId"]
    assert worker["parentSpanId"] == llm["spanId"]  # B's first span under A's LLM span
    assert tool["parentSpanId"] == worker["spanId"]
    assert worker["flags"] & 0x300 == 0x300  # a remote parent
    ids = {sp["spanId"] for sp in spans}
    assert all(not sp.get("parentSpanId") or sp["parentSpanId"] in ids for sp in spans)  # nothing orphaned


# ---- two processes, two languages -------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]


def loaded_library() -> Path | None:
    """The libnemorelay this process loaded, when it was loaded from a known file."""
    from nemo_relay import _ffi

    path = Path(_ffi.lib.dll._name)
    return path.resolve() if path.is_file() else None


def services(exported: list[dict[str, Any]]) -> dict[str, str]:
    """Span name -> the service.name of the resource it was exported with."""
    return {e["span"]["name"]: resource_attrs(e["resource"])["service.name"]["stringValue"] for e in exported}


#: Process B in Node: continues the context read from stdin, exports with its own subscriber.
_NODE_CHILD = r"""
const [bindings, endpoint] = process.argv.slice(1);
const relay = require(bindings);
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => { input += d; }).on('end', async () => {
  const s = new relay.OpenTelemetrySubscriber({ type: 'full', endpoint, serviceName: 'node-worker' });
  s.register('node-child-otel');
  const stack = relay.createScopeStackFromPropagation(relay.propagationContextFromJson(input));
  await relay.withScopeStack(stack, () => relay.withScope('worker', relay.ScopeType.Agent, async () => {
    await relay.toolCallExecute('lookup', { q: 1 }, () => ({ result: { ok: true } }));
  }));
  await relay.flushSubscribers();
  s.forceFlush();
  s.shutdown();
});
"""


def test_python_to_node_one_trace(receiver: Any) -> None:
    """Process A (Python) hands its LLM call's propagation context to process B (Node); both export to one
    collector, and B's spans continue A's trace under A's LLM span."""
    import asyncio
    import os
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # The Node binding's helper: NEMO_RELAY_HELPER_PATH, else the one built next to the library loaded here
    # (so both processes run the same build), else the newest SwiftPM build (the binding's own fallback).
    lib = loaded_library()
    helpers = [REPO / ".build" / c / "NemoRelayHelper" for c in ("release", "debug")]
    helpers = sorted((h for h in helpers if h.is_file()), key=lambda h: h.stat().st_mtime, reverse=True)
    if lib is not None:
        helpers.insert(0, lib.parent / "NemoRelayHelper")
    if os.environ.get("NEMO_RELAY_HELPER_PATH"):
        helpers.insert(0, Path(os.environ["NEMO_RELAY_HELPER_PATH"]))
    helper = next((h for h in helpers if h.is_file()), None)
    if helper is None:
        pytest.skip("the Node binding's helper (NemoRelayHelper) is not built; set NEMO_RELAY_HELPER_PATH")
    env = dict(os.environ, NEMO_RELAY_HELPER_PATH=str(helper))
    if lib is not None:
        env["NEMO_RELAY_LIB_PATH"] = str(lib)
    receiver.reset()

    def body() -> None:
        s = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("full", receiver.url))
        s.register("python-parent-otel")

        async def run() -> None:
            with scope.scope("frontend", nr.ScopeType.Agent):

                async def provider(req: Any) -> Any:
                    child = await asyncio.to_thread(
                        subprocess.run,
                        [node, "-e", _NODE_CHILD, str(REPO / "bindings" / "node"), receiver.url],
                        input=nr.capture_propagation_context().to_json(),
                        capture_output=True,
                        text=True,
                        timeout=120,
                        env=env,
                    )
                    assert child.returncode == 0, child.stderr
                    return {"choices": [{"message": {"role": "assistant", "content": "done"}}]}

                await nr.llm.execute(
                    "openai",
                    nr.LLMRequest({}, {"model": "m", "messages": [{"role": "user", "content": "go"}]}),
                    provider,
                )

        try:
            asyncio.run(run())
            s.force_flush()
        finally:
            s.shutdown()

    run_fresh(body)
    exported = receiver.spans()
    assert_one_trace(exported)
    assert services(exported) == {
        "frontend": "unknown_service",
        "openai": "unknown_service",
        "worker": "node-worker",
        "lookup": "node-worker",
    }


def test_c_to_python_one_trace(receiver: Any, tmp_path: Path) -> None:
    """Process A (C, Tests/c/otel_two_process.c) captures its LLM call with nemo_relay_propagation_capture and
    runs process B (Python) on that context; both export to one collector: one trace, B under A's LLM span."""
    import os
    import shutil
    import subprocess

    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) to build Tests/c/otel_two_process.c")
    lib = loaded_library()
    if lib is None:
        pytest.skip("the loaded libnemorelay has no known path to link Tests/c/otel_two_process.c against")
    exe = tmp_path / "otel_two_process"
    flags = ["-std=c99", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", f"-I{REPO / 'include'}"]
    source = REPO / "Tests" / "c" / "otel_two_process.c"
    link = [f"-L{lib.parent}", "-lnemorelay", "-lpthread", f"-Wl,-rpath,{lib.parent}"]
    build = subprocess.run(
        [cc, *flags, str(source), *link, "-o", str(exe)], check=False, capture_output=True, text=True, timeout=120
    )
    assert build.returncode == 0, build.stderr
    receiver.reset()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), NEMO_RELAY_LIB_PATH=str(lib))
    child = [sys.executable, "-c", _CHILD, receiver.url, "python-worker"]
    run = subprocess.run(
        [str(exe), receiver.url, *child], check=False, capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    exported = receiver.spans()
    assert_one_trace(exported)
    assert services(exported) == {
        "frontend": "c-frontend",
        "openai": "c-frontend",
        "worker": "python-worker",
        "lookup": "python-worker",
    }
