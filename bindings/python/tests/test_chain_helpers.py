# SPDX-License-Identifier: Apache-2.0
"""The chain helpers (docs/pipeline.md, "Chain helpers") run the runtime's own chains: global and
scope-local entries merged, guardrail scopes emitted, dual mode (docs/python.md, "Dual mode")."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import arun, run_fresh

import nemo_relay
from nemo_relay import (
    LLMRequest,
    LLMRequestInterceptOutcome,
    LogSeverity,
    PendingMarkSpec,
    ScopeType,
)

scope, llm, tools = nemo_relay.scope, nemo_relay.llm, nemo_relay.tools
guardrails, intercepts, scope_local = nemo_relay.guardrails, nemo_relay.intercepts, nemo_relay.scope_local

NEEDS_ASYNC = "^internal error: awaitable Python middleware requires an async caller$"


def guardrail_events(collector: Any, *names: str) -> list[tuple[str, str, Any]]:
    return [
        (e["name"], e["scope_category"], e["data"])
        for e in collector.events()
        if e["kind"] == "scope" and e["category"] == "guardrail" and e["name"] in names
    ]


def test_llm_conditional_runs_global_and_scope_local_entries_with_guardrail_scopes(collector: Any) -> None:
    seen: list[str] = []

    def global_guard(r: LLMRequest) -> None:
        seen.append("global")

    def local_guard(r: LLMRequest) -> Any:
        seen.append("local")
        return "blocked locally" if r.content == "bad" else None

    guardrails.register_llm_conditional_execution("ch-global", 5, global_guard)
    try:

        def body() -> None:
            with scope.scope("owner", ScopeType.Agent) as owner:
                scope_local.register_llm_conditional_execution(owner, "ch-local", 1, local_guard)
                assert llm.conditional_execution(LLMRequest({}, "ok")) is None
                with pytest.raises(nemo_relay.GuardrailRejectedError, match="^guardrail rejected: blocked locally$"):
                    llm.conditional_execution(LLMRequest({}, "bad"))
            # The scope-local entry left with its scope.
            seen.clear()
            assert llm.conditional_execution(LLMRequest({}, "bad")) is None
            assert seen == ["global"]

        run_fresh(body)
    finally:
        guardrails.deregister_llm_conditional_execution("ch-global")

    kind = {"kind": "llm_conditional_execution"}
    allowed = {"allowed": True, "rejected": False}
    assert guardrail_events(collector, "ch-global", "ch-local") == [
        # Priority order: the local entry (1) before the global one (5).
        ("ch-local", "start", kind),
        ("ch-local", "end", allowed),
        ("ch-global", "start", kind),
        ("ch-global", "end", allowed),
        # The rejection stops the chain; no rejection mark and no LLM events.
        ("ch-local", "start", kind),
        ("ch-local", "end", {"allowed": False, "rejected": True, "rejection_reason": "blocked locally"}),
        ("ch-global", "start", kind),
        ("ch-global", "end", allowed),
    ]
    assert not [e for e in collector.events() if e["kind"] == "mark" or e["category"] == "llm"]


def test_tool_conditional_scope_local_and_target_name(collector: Any) -> None:
    def body() -> None:
        with scope.scope("owner", ScopeType.Agent) as owner:
            scope_local.register_tool_conditional_execution(
                owner, "tc-local", 1, lambda name, args: "no deletes" if args.get("op") == "delete" else None
            )
            assert tools.conditional_execution("files", {"op": "read"}) is None
            with pytest.raises(nemo_relay.GuardrailRejectedError, match="^guardrail rejected: no deletes$"):
                tools.conditional_execution("files", {"op": "delete"})
        assert tools.conditional_execution("files", {"op": "delete"}) is None

    run_fresh(body)
    start = {"kind": "tool_conditional_execution", "target_name": "files"}
    assert guardrail_events(collector, "tc-local") == [
        ("tc-local", "start", start),
        ("tc-local", "end", {"allowed": True, "rejected": False}),
        ("tc-local", "start", start),
        ("tc-local", "end", {"allowed": False, "rejected": True, "rejection_reason": "no deletes"}),
    ]


def test_llm_request_intercepts_merge_scopes_return_marks_and_emit_nothing(collector: Any) -> None:
    def tag(label: str, mark: bool = False) -> Any:
        def fn(name: str, request: LLMRequest, annotated: Any) -> LLMRequestInterceptOutcome:
            assert annotated is None  # no codec in the chain helper
            content = request.content
            content["trail"] = [*content.get("trail", []), f"{label}:{name}"]
            marks = [PendingMarkSpec(f"mark-{label}", data={"x": 1}, severity=LogSeverity.Warn)] if mark else []
            return LLMRequestInterceptOutcome(LLMRequest(request.headers, content), None, marks)

        return fn

    intercepts.register_llm_request("ri-global", 5, False, tag("global", mark=True))
    try:

        def body() -> None:
            with scope.scope("owner", ScopeType.Agent) as owner:
                scope_local.register_llm_request(owner, "ri-local", 1, False, tag("local"))
                out = llm.request_intercepts("my-call", LLMRequest({"h": "1"}, {}))
                assert isinstance(out, LLMRequestInterceptOutcome)
                assert out.request.content == {"trail": ["local:my-call", "global:my-call"]}
                assert out.request.headers == {"h": "1"}
                assert out.annotated_request is None
                [m] = out.pending_marks
                assert (m.name, m.data, m.severity) == ("mark-global", {"x": 1}, LogSeverity.Warn)
                # break_chain on the local entry stops before the global one.
                scope_local.register_llm_request(owner, "ri-break", 0, True, tag("break"))
                out = llm.request_intercepts("my-call", LLMRequest({}, {}))
                assert out.request.content == {"trail": ["break:my-call"]}
                assert out.pending_marks == []
            out = llm.request_intercepts("after", LLMRequest({}, {}))
            assert out.request.content == {"trail": ["global:after"]}

        run_fresh(body)
    finally:
        intercepts.deregister_llm_request("ri-global")
    names = {e["name"] for e in collector.events()}
    assert not names & {"my-call", "after", "mark-global"}


def test_tool_request_intercepts_merge_scopes_and_sort_keys() -> None:
    intercepts.register_tool_request("tr-global", 5, False, lambda name, args: {**args, "z_global": name})
    try:

        def body() -> None:
            with scope.scope("owner", ScopeType.Agent) as owner:
                scope_local.register_tool_request(owner, "tr-local", 1, False, lambda name, args: {**args, "local": 1})
                out = tools.request_intercepts("search", {"q": "w", "b": (1, 2)})
                assert out == {"b": [1, 2], "local": 1, "q": "w", "z_global": "search"}
                assert list(out) == sorted(out)
            assert tools.request_intercepts("search", {}) == {"z_global": "search"}

        run_fresh(body)
    finally:
        intercepts.deregister_tool_request("tr-global")
    with pytest.raises(ValueError, match="^Failed to convert to JSON: unsupported type object$"):
        tools.request_intercepts("search", {"bad": object()})


def test_dual_mode_and_awaitable_callbacks() -> None:
    async def slow_guard(r: LLMRequest) -> Any:
        await asyncio.sleep(0.001)  # really suspends
        return "slow no" if r.content == "bad" else None

    guardrails.register_llm_conditional_execution("dm-async", 1, slow_guard)
    try:
        # Outside a loop an awaitable callback fails the chain, even one that would not suspend.
        with pytest.raises(RuntimeError, match=NEEDS_ASYNC):
            llm.conditional_execution(LLMRequest({}, "ok"))

        async def main() -> None:
            fut = llm.conditional_execution(LLMRequest({}, "ok"))
            assert isinstance(fut, asyncio.Future)
            assert await fut is None
            with pytest.raises(nemo_relay.GuardrailRejectedError, match="^guardrail rejected: slow no$"):
                await llm.conditional_execution(LLMRequest({}, "bad"))

        arun(main)
    finally:
        guardrails.deregister_llm_conditional_execution("dm-async")

    async def instant(name: str, args: Any) -> Any:
        return {**args, "async": True}

    intercepts.register_tool_request("dm-instant", 1, False, instant)
    try:
        with pytest.raises(RuntimeError, match=NEEDS_ASYNC):
            tools.request_intercepts("t", {})

        async def main2() -> Any:
            return await tools.request_intercepts("t", {})

        assert arun(main2) == {"async": True}
    finally:
        intercepts.deregister_tool_request("dm-instant")


def test_callback_exception_is_the_same_object_in_both_modes() -> None:
    boom = KeyError("boom")

    def raising(name: str, args: Any) -> Any:
        raise boom

    intercepts.register_tool_request("same-exc", 1, False, raising)
    try:
        with pytest.raises(KeyError) as info:
            tools.request_intercepts("t", {})
        assert info.value is boom

        async def main() -> None:
            with pytest.raises(KeyError) as info2:
                await tools.request_intercepts("t", {})
            assert info2.value is boom

        arun(main)
    finally:
        intercepts.deregister_tool_request("same-exc")


def test_cancelling_a_chain_future_cancels_its_callback() -> None:
    state: dict[str, Any] = {}

    async def hanging(tool_name: str, args: Any) -> Any:
        state["started"].set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise
        return None

    guardrails.register_tool_conditional_execution("hang", 1, hanging)
    try:

        async def main() -> None:
            state["started"] = asyncio.Event()
            fut = tools.conditional_execution("t", {})
            await state["started"].wait()
            fut.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fut
            await asyncio.sleep(0)

        arun(main)
    finally:
        guardrails.deregister_tool_conditional_execution("hang")
    assert state.get("cancelled") is True


def test_argument_errors_are_synchronous() -> None:
    with pytest.raises(TypeError, match="is not an instance of 'LLMRequest'"):
        llm.conditional_execution({"headers": {}, "content": {}})
    with pytest.raises(TypeError, match="is not an instance of 'str'"):
        llm.request_intercepts(1, LLMRequest({}, {}))
    with pytest.raises(TypeError, match="is not an instance of 'str'"):
        tools.conditional_execution(None, {})
