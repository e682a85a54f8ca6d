# SPDX-License-Identifier: Apache-2.0
"""W3C trace context and Relay propagation: the cases of ``Tests/vectors/otel_propagation.json``
replayed through the Python API (the capture script's own code where it does not need an
OpenTelemetry exporter), the Python surface of ``PropagationContext``, and a two-process run.

Comparison rules: results are compared after the vectors' normalisation (fresh uuids numbered by
first appearance). Runtime failures are ``RuntimeError`` in the reference and subclasses of it here
(``nemo_relay.NemoRelayError``), so an exception type is compared as ``RuntimeError`` when it is one.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, arun, load_vectors

import nemo_relay as nr
from nemo_relay.codecs import OpenAIChatCodec

sys.path.insert(0, str(Path(__file__).resolve().parent))
import otel_propagation as prop

V = load_vectors("otel_propagation.json")
PARENT, ROOT, ZERO = prop.PARENT, prop.ROOT, prop.ZERO
T = prop.TRACEPARENT


def _runtime_error_names(v: Any) -> Any:
    """The reference's exception names for ours: a ``NemoRelayError`` subclass is a ``RuntimeError``."""
    if isinstance(v, dict):
        if set(v) == {"type", "message"} and v["type"] in _RUNTIME_SUBCLASSES:
            return {"type": "RuntimeError", "message": v["message"]}
        return {k: _runtime_error_names(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_runtime_error_names(x) for x in v]
    return v


_RUNTIME_SUBCLASSES = {cls.__name__ for cls in nr._errors.ERRORS.values()} | {"NemoRelayError"}


def _normalised(raw: dict[str, Any]) -> dict[str, Any]:
    raw = _runtime_error_names(raw)
    return prop.PropagationNormaliser().prime(raw).value(raw)


def _by_name(section: str) -> dict[str, Any]:
    return {c["name"]: c for c in V[section]}


# ---- the vectors ---------------------------------------------------------------------------------


def test_vector_counts() -> None:
    counts = {k: len(V[k]) for k in ("capture", "context", "stack", "llm_headers")}
    assert counts == {"capture": 5, "context": 52, "stack": 15, "llm_headers": 7}


@pytest.mark.parametrize("case", V["context"], ids=lambda c: c["name"])
def test_context_cases(case: dict[str, Any], context_results: dict[str, Any]) -> None:
    got = context_results[case["name"]]
    assert got["raw"] == case["raw"]


@pytest.fixture(scope="module")
def context_results() -> dict[str, Any]:
    return {c["name"]: _runtime_error_names(c) for c in prop.section_context(nr)}


@pytest.fixture(scope="module")
def capture_results() -> dict[str, Any]:
    return {c["name"]: c for c in prop.section_capture(nr)}


@pytest.mark.parametrize("case", V["capture"], ids=lambda c: c["name"])
def test_capture_cases(case: dict[str, Any], capture_results: dict[str, Any]) -> None:
    got = capture_results[case["name"]]
    assert _normalised(got["raw"]) == case["normalised"]


STACK_CONTEXTS = {
    "rooted": lambda: nr.PropagationContext(PARENT, ROOT),
    "rootless": lambda: nr.PropagationContext(PARENT),
    "rooted_with_w3c": lambda: nr.PropagationContext(PARENT, ROOT, traceparent=T, tracestate="vendor=a"),
    "rootless_with_w3c": lambda: nr.PropagationContext(PARENT, None, traceparent=T, tracestate="vendor=a"),
    "from_json_rooted": lambda: nr.PropagationContext.from_json(
        json.dumps({"version": 1, "root_uuid": ROOT, "parent_uuid": PARENT})
    ),
    "zero_trace_id_traceparent_dropped": lambda: nr.PropagationContext(
        PARENT, ROOT, traceparent="00-00000000000000000000000000000000-00f067aa0ba902b7-01"
    ),
}


def _run_stack_case(make: Any) -> dict[str, Any]:
    """The capture script's stack case without the OpenTelemetry exporter: captures before and in a
    child scope, a managed LLM call with caller trace headers, and the events."""
    lines: list[str] = []
    seen: list[dict[str, Any]] = []
    nr.subscribers.register("propagation-stack-events", lambda e: lines.append(e.to_json()))

    async def body() -> Any:
        stack = nr.create_scope_stack_from_propagation(make())
        out: dict[str, Any] = {}
        with nr.use_scope_stack(stack):
            out["before_any_scope"] = prop.captures(nr)
            with nr.scope.scope("child", nr.ScopeType.Function) as child:
                out["child"] = child.uuid
                out["in_child"] = prop.captures(nr)
                await nr.llm.execute(
                    "openai",
                    nr.LLMRequest(
                        {"traceparent": prop.CALLER_TRACEPARENT, "tracestate": "caller=1", "x-request-id": "req-1"},
                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                    ),
                    prop._provider(nr, seen, "llm in child"),
                    codec=OpenAIChatCodec(),
                )
        return out

    try:
        extra = contextvars.Context().run(lambda: asyncio.run(body()))
        nr.subscribers.flush()
    finally:
        nr.subscribers.deregister("propagation-stack-events")
    return {
        "context": prop.outcome(make),
        "stack": extra,
        "provider_requests": seen,
        "events": [json.loads(x) for x in lines],
    }


@pytest.mark.parametrize("name", list(STACK_CONTEXTS))
def test_stack_cases(name: str) -> None:
    expected = {k: v for k, v in _by_name("stack")[name]["normalised"].items() if k != "spans"}
    assert _normalised(_run_stack_case(STACK_CONTEXTS[name])) == expected


NOT_CONTEXTS = {
    "not a context: None": None,
    "not a context: a JSON string": json.dumps({"version": 1, "parent_uuid": PARENT}),
    "not a context: a dict": {"version": 1, "parent_uuid": PARENT},
}
UNUSABLE = {
    "unusable input: malformed parent": lambda: nr.PropagationContext("not-a-uuid"),
    "unusable input: all-zero parent": lambda: nr.PropagationContext(ZERO),
    "unusable input: all-zero root": lambda: nr.PropagationContext(PARENT, ZERO),
    "unusable input: all-zero parent tail": lambda: nr.PropagationContext(prop.ZERO_TAIL),
    "unusable input: malformed JSON": lambda: nr.PropagationContext.from_json("{"),
    "unusable input: all-zero parent JSON": lambda: nr.PropagationContext.from_json(
        json.dumps({"version": 1, "parent_uuid": ZERO})
    ),
}


@pytest.mark.parametrize("name", list(NOT_CONTEXTS) + list(UNUSABLE))
def test_stack_refusals(name: str) -> None:
    if name in NOT_CONTEXTS:
        got = prop.outcome(lambda: nr.create_scope_stack_from_propagation(NOT_CONTEXTS[name]))
    else:
        got = prop.outcome(lambda: nr.create_scope_stack_from_propagation(UNUSABLE[name]()))
    assert got == _by_name("stack")[name]["raw"]


@pytest.mark.parametrize("case", V["llm_headers"], ids=lambda c: c["name"])
def test_llm_header_cases(case: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []
    lines: list[str] = []
    nr.subscribers.register("propagation-llm-headers", lambda e: lines.append(e.to_json()))

    async def body() -> Any:
        with nr.scope.scope("agent", nr.ScopeType.Agent) as agent:
            await nr.llm.execute(
                "openai",
                nr.LLMRequest(
                    dict(case["caller_headers"]),
                    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                ),
                prop._provider(nr, seen, case["name"]),
                codec=OpenAIChatCodec(),
            )
            return agent.uuid

    try:
        agent = arun(body)
        nr.subscribers.flush()
    finally:
        nr.subscribers.deregister("propagation-llm-headers")
    llm = next(json.loads(x)["uuid"] for x in lines if json.loads(x).get("category") == "llm")
    raw = {"agent": agent, "llm": llm, "provider_headers": seen[0]["headers"]}
    expected = {k: case["normalised"][k] for k in ("agent", "llm", "provider_headers")}
    assert _normalised(raw) == expected


# ---- the Python surface ----------------------------------------------------------------------------


def test_context_value_semantics() -> None:
    a = nr.PropagationContext(PARENT, ROOT)
    b = nr.PropagationContext(PARENT, ROOT)
    assert a == a and a != b  # noqa: PLR0124 - equality is identity, as in the reference
    assert hash(a) != hash(b) or a is b
    assert repr(a).startswith("<") and "PropagationContext object at 0x" in repr(a)
    for name in ("version", "root_uuid", "parent_uuid", "traceparent", "tracestate"):
        with pytest.raises(AttributeError):
            setattr(a, name, None)
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(a)
    assert nr.PropagationContext.from_json(a.to_json()).to_json() == a.to_json()


def test_constructor_argument_types() -> None:
    with pytest.raises(TypeError, match=r"^'int' object is not an instance of 'str'$"):
        nr.PropagationContext(5)
    with pytest.raises(TypeError, match=r"^'None' is not an instance of 'str'$"):
        nr.PropagationContext(None)
    with pytest.raises(TypeError, match=r"^'int' object is not an instance of 'str'$"):
        nr.PropagationContext(PARENT, 5)
    with pytest.raises(TypeError, match=r"^'int' object is not an instance of 'str'$"):
        nr.PropagationContext(PARENT, ROOT, traceparent=5)
    with pytest.raises(TypeError, match=r"^'float' object cannot be interpreted as an integer$"):
        nr.PropagationContext(PARENT, ROOT, version=1.0)
    with pytest.raises(OverflowError, match="out of range integral type conversion attempted"):
        nr.PropagationContext(PARENT, ROOT, version=65536)
    with pytest.raises(OverflowError):
        nr.PropagationContext(PARENT, ROOT, version=-1)
    with pytest.raises(
        ValueError, match=r"^invalid argument: unsupported propagation context version 65535; expected 1$"
    ):
        nr.PropagationContext(PARENT, ROOT, version=65535)
    assert nr.PropagationContext(PARENT, ROOT, version=True).version == 1
    assert nr.PropagationContext(parent_uuid=PARENT, tracestate="a=b", traceparent=T).tracestate == "a=b"
    with pytest.raises(TypeError, match=r"^'bytes' object is not an instance of 'str'$"):
        nr.PropagationContext.from_json(b"{}")
    with pytest.raises(ValueError, match="NUL|invalid character"):
        nr.PropagationContext(PARENT + "\x00")


def test_capture_with_root_errors() -> None:
    def run() -> None:
        with pytest.raises(ValueError, match=r"^invalid length: expected length 32 for simple format, found 3$"):
            nr.capture_propagation_context_with_root("bad")
        with pytest.raises(RuntimeError, match=r"^invalid argument: propagation context root_uuid is not a usable"):
            nr.capture_propagation_context_with_root(ZERO)
        with pytest.raises(TypeError, match=r"^'int' object is not an instance of 'str'$"):
            nr.capture_propagation_context_with_root(5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            nr.capture_propagation_context_with_root()  # type: ignore[call-arg]
        c = nr.capture_propagation_context_with_root("{" + ROOT.upper() + "}")
        assert c.root_uuid == ROOT

    contextvars.Context().run(run)


def test_captures_after_await_name_the_managed_call() -> None:
    """A coroutine provider or tool keeps its call as the capture parent across ``await``s; a stack
    installed inside the callback does not; after the call the scope is the parent again."""
    lines: list[str] = []
    nr.subscribers.register("propagation-await", lambda e: lines.append(e.to_json()))
    seen: dict[str, Any] = {}

    async def body() -> Any:
        with nr.scope.scope("agent", nr.ScopeType.Agent) as agent:

            async def provider(req: Any) -> Any:
                await asyncio.sleep(0.001)
                seen["llm"] = nr.capture_propagation_context()
                seen["llm_tp"] = nr.capture_traceparent()
                other = nr.create_scope_stack()
                with nr.use_scope_stack(other):
                    seen["other"] = nr.capture_rootless_propagation_context()
                seen["child_task"] = await asyncio.create_task(_capture_later())
                return prop.CHAT_RESPONSE

            async def tool(args: Any) -> Any:
                await asyncio.sleep(0)
                seen["tool"] = nr.capture_rootless_propagation_context()
                return nr.ToolExecutionResult({"ok": True})

            await nr.llm.execute("openai", nr.LLMRequest({}, {"model": "m", "messages": []}), provider)
            await nr.tools.execute("lookup", {}, tool)
            seen["after"] = nr.capture_propagation_context()
            return agent.uuid

    try:
        agent = arun(body)
        nr.subscribers.flush()
    finally:
        nr.subscribers.deregister("propagation-await")
    events = [json.loads(x) for x in lines]
    llm = next(e["uuid"] for e in events if e.get("category") == "llm")
    tool = next(e["uuid"] for e in events if e.get("category") == "tool")
    assert seen["llm"].parent_uuid == llm and seen["llm"].root_uuid == agent
    assert seen["llm_tp"] == f"00-{agent.replace('-', '')}-{llm.replace('-', '')[16:]}-01"
    assert seen["child_task"].parent_uuid == llm
    assert seen["other"].parent_uuid not in (llm, agent)
    assert seen["tool"].parent_uuid == tool and seen["tool"].root_uuid is None
    assert seen["after"].parent_uuid == agent


async def _capture_later() -> Any:
    await asyncio.sleep(0)
    return nr.capture_propagation_context()


def test_streaming_call_sends_the_imported_trace() -> None:
    seen: dict[str, Any] = {}

    async def body() -> Any:
        stack = nr.create_scope_stack_from_propagation(
            nr.PropagationContext(PARENT, ROOT, traceparent=T, tracestate="vendor=a")
        )
        with nr.use_scope_stack(stack):

            async def provider(req: Any) -> Any:
                seen["headers"] = dict(req.headers)
                seen["capture"] = nr.capture_traceparent()
                yield {"choices": [{"delta": {"content": "x"}}]}

            stream = await nr.llm.stream_execute(
                "openai",
                nr.LLMRequest({"TRACEPARENT": prop.CALLER_TRACEPARENT}, {"model": "m", "messages": []}),
                provider,
                None,
                None,
            )
            async for _ in stream:
                pass

    arun(body)
    assert seen["headers"]["tracestate"] == "vendor=a"
    assert seen["headers"]["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert seen["capture"] == seen["headers"]["traceparent"]
    assert "TRACEPARENT" not in seen["headers"]


# ---- two processes ----------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "bindings" / "python"), env.get("PYTHONPATH")]))
    return env


def test_two_processes(tmp_path: Path) -> None:
    """Process A (this one) opens an Agent scope and a managed LLM call whose provider hands
    ``capture_propagation_context().to_json()`` (and a rootless capture) to process B, which continues
    the work under a stack created from it. Both write their events to JSON Lines through a plain
    subscriber."""
    a_path, b_path = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a_file = open(a_path, "w", encoding="utf-8")  # noqa: SIM115
    nr.subscribers.register("two-process-a", lambda e: a_file.write(e.to_json() + "\n"))
    handoff: dict[str, Any] = {}

    async def body() -> Any:
        with nr.scope.scope("frontend-agent", nr.ScopeType.Agent, metadata={"session_id": "session-2p"}) as agent:

            async def provider(req: Any) -> Any:
                rooted = nr.capture_propagation_context().to_json()
                rootless = nr.capture_rootless_propagation_context().to_json()
                child = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, str(Path(__file__).with_name("propagation_child.py")), str(b_path)],
                    input=f"{rooted}\n{rootless}\n",
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=_child_env(),
                )
                assert child.returncode == 0, child.stderr
                handoff.update(
                    {"headers": dict(req.headers), "sent": [rooted, rootless], "b": json.loads(child.stdout)}
                )
                return prop.CHAT_RESPONSE

            await nr.llm.execute(
                "openai",
                nr.LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "delegate"}]}),
                provider,
                codec=OpenAIChatCodec(),
            )
            return agent.uuid

    try:
        agent = arun(body)
        nr.subscribers.flush()
    finally:
        nr.subscribers.deregister("two-process-a")
        a_file.close()
    events_a = [json.loads(x) for x in a_path.read_text().splitlines()]
    events_b = [json.loads(x) for x in b_path.read_text().splitlines()]
    llm = next(e["uuid"] for e in events_a if e.get("category") == "llm")
    hexa = agent.replace("-", "")

    # What A sent: its LLM span as the parent, its agent as the root, and A's trace.
    rooted, rootless = (json.loads(s) for s in handoff["sent"])
    assert rooted == {
        "version": 1,
        "root_uuid": agent,
        "parent_uuid": llm,
        "traceparent": f"00-{hexa}-{llm.replace('-', '')[16:]}-01",
    }
    assert rootless == {"version": 1, "parent_uuid": llm}
    assert handoff["headers"]["traceparent"] == rooted["traceparent"]

    jobs = handoff["b"]["jobs"]
    first = [e for e in events_b if e["uuid"] == jobs[0]["worker"]]
    # B's first scope continues A: parent = A's LLM span, root = A's agent.
    assert first and all(e["parent_uuid"] == llm and e["propagation_root_uuid"] == agent for e in first)
    b_rooted = [e for e in events_b if e.get("propagation_root_uuid") == agent]
    assert {e["category"] for e in b_rooted} == {"function", "tool", "llm"}
    # B's managed LLM call replaced the caller's header with one in A's trace.
    b_llm = next(e["uuid"] for e in b_rooted if e["category"] == "llm")
    assert jobs[0]["headers"]["traceparent"] == f"00-{hexa}-{b_llm.replace('-', '')[16:]}-01"
    assert json.loads(jobs[0]["capture"])["parent_uuid"] == b_llm
    assert json.loads(jobs[0]["capture"])["root_uuid"] == agent

    # The rootless job keeps the Relay parent but has no root, and its LLM call starts a new trace
    # rooted at B's first scope.
    second = [e for e in events_b if e["uuid"] == jobs[1]["worker"]]
    assert second and all(e["parent_uuid"] == llm and "propagation_root_uuid" not in e for e in second)
    assert all("propagation_root_uuid" not in e for e in events_b[len(events_b) // 2 :])
    b2_llm = next(e["uuid"] for e in events_b[len(events_b) // 2 :] if e["category"] == "llm")
    worker = jobs[1]["worker"].replace("-", "")
    assert jobs[1]["headers"]["traceparent"] == f"00-{worker}-{b2_llm.replace('-', '')[16:]}-01"
    assert "tracestate" not in jobs[1]["headers"]
