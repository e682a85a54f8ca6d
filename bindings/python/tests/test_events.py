# SPDX-License-Identifier: Apache-2.0
"""The six event scenarios of Tests/vectors/events.json, compared after placeholder normalisation."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from conftest import Collector, arun, differences, load_vectors, normalise

import nemo_relay
from nemo_relay import LLMAttributes, LLMRequest, ScopeAttributes, ScopeType, ToolAttributes, ToolExecutionResult
from nemo_relay.codecs import AnthropicMessagesCodec, OpenAIChatCodec

VECTORS = {s["name"]: s for s in load_vectors("events.json")}
scope = nemo_relay.scope


def expected(name: str) -> list[dict[str, Any]]:
    return VECTORS[name]["events"]


def run_scenario(body: Callable[[], Any]) -> list[dict[str, Any]]:
    """Runs ``body`` (a coroutine function) in a fresh context and returns its normalised events."""
    c = Collector()
    try:

        async def main() -> str:
            root = scope.get_handle().uuid
            await body()
            return root

        root = arun(main)
        events = c.events()
    finally:
        c.close()
    return normalise(events, root)


def chat(text: str) -> LLMRequest:
    return LLMRequest({}, {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})


async def nested_scopes_and_marks() -> None:
    with scope.scope(
        "research-agent", ScopeType.Agent, input={"task": "summarise"}, metadata={"session_id": "s-1"}
    ) as agent:
        scope.event("plan-ready", data={"steps": 2})
        fetch = scope.push("fetch", ScopeType.Function, attributes=ScopeAttributes(ScopeAttributes.PARALLEL))
        scope.pop(fetch, output={"docs": 3}, metadata={"cache": "miss"})
        scope.event("explicit-parent-mark", handle=agent, metadata={"k": "v"})
    with pytest.raises(ValueError, match="step exploded"):
        with scope.scope("failing-step", ScopeType.Function):
            raise ValueError("step exploded")


async def managed_llm_call_with_openai_chat_codecs() -> None:
    exp = expected("managed_llm_call_with_openai_chat_codecs")
    content, response = exp[1]["data"]["content"], exp[2]["data"]
    seen: list[LLMRequest] = []

    async def provider(req: LLMRequest) -> Any:
        seen.append(req)
        return response

    with scope.scope("chat-agent", ScopeType.Agent):
        codec = OpenAIChatCodec()
        out = await nemo_relay.llm.execute(
            "openai",
            LLMRequest({"authorization": "Bearer sk-secret", "x-request-id": "req-1"}, content),
            provider,
            model_name="gpt-4o-mini",
            metadata={"attempt": 1},
            codec=codec,
            response_codec=codec,
        )
    assert out == response
    assert seen[0].headers["authorization"] == "Bearer sk-secret"
    assert seen[0].headers["x-dynamo-session-id"] == "chat-agent"
    assert "traceparent" in seen[0].headers


async def managed_and_manual_tool_calls() -> None:
    def ok(args: Any) -> Any:
        return ToolExecutionResult({"temp_c": 18, "city": args["city"]}, annotation={"source": "cache"})

    r = await nemo_relay.tools.execute(
        "get_weather", {"city": "Paris"}, ok, tool_call_id="call_1", metadata={"attempt": 1}
    )
    assert r.result == {"city": "Paris", "temp_c": 18} and r.annotation == {"source": "cache"}

    boom = RuntimeError("service unavailable")

    async def bad(args: Any) -> Any:
        raise boom

    with pytest.raises(RuntimeError) as info:
        await nemo_relay.tools.execute(
            "get_time",
            {"tz": "Asia/Tokyo"},
            bad,
            tool_call_id="call_2",
            data={"fallback": "n/a"},
            attributes=ToolAttributes(ToolAttributes.REMOTE),
        )
    assert info.value is boom
    h = nemo_relay.tools.call("manual_tool", {"q": 1}, metadata={"phase": "start"})
    nemo_relay.tools.call_end(h, ToolExecutionResult("done"), metadata={"phase": "end"})


async def llm_conditional_guardrail_rejection() -> None:
    nemo_relay.guardrails.register_llm_conditional_execution("allow-all", 1, lambda req: None)
    nemo_relay.guardrails.register_llm_conditional_execution(
        "block-secrets", 2, lambda req: "request mentions a secret" if "secret" in json.dumps(req.content) else None
    )
    try:

        async def provider(req: LLMRequest) -> Any:
            return {"ok": True}

        with pytest.raises(RuntimeError, match="^guardrail rejected: request mentions a secret$"):
            await nemo_relay.llm.execute("openai", chat("tell me the secret"), provider, model_name="gpt-4o")
        assert await nemo_relay.llm.execute("openai", chat("hello"), provider, model_name="gpt-4o") == {"ok": True}
    finally:
        nemo_relay.guardrails.deregister_llm_conditional_execution("allow-all")
        nemo_relay.guardrails.deregister_llm_conditional_execution("block-secrets")


#: The seven Anthropic stream events of the scenario's streaming call; the vector records only their
#: llm.chunk summaries, which these reproduce.
ANTHROPIC_STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " world"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    },
    {"type": "message_stop"},
]


async def agent_session_history_projection_and_streaming() -> None:
    all_events = expected("agent_session_history_projection_and_streaming")
    content, response = all_events[1]["data"]["content"], all_events[2]["data"]
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    with scope.scope("assistant-session", ScopeType.Agent):
        codec = AnthropicMessagesCodec()
        out = await nemo_relay.llm.execute(
            "anthropic",
            LLMRequest(headers, content),
            lambda req: response,
            model_name="claude-sonnet-4-20250514",
            codec=codec,
            response_codec=codec,
        )
        assert out == response

        history = content["messages"] + [
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "Say hello to the world"},
        ]
        state: dict[str, Any] = {"text": "", "usage": {}, "id": None, "model": None, "stop_reason": None}

        async def provider(req: LLMRequest) -> Any:
            assert req.content["messages"] == history  # the provider gets the whole history
            for event in ANTHROPIC_STREAM:
                yield event

        def collect(event: Any) -> None:
            t = event["type"]
            if t == "message_start":
                m = event["message"]
                state.update(id=m["id"], model=m["model"])
                state["usage"].update(m["usage"])
            elif t == "content_block_delta":
                state["text"] += event["delta"]["text"]
            elif t == "message_delta":
                state["stop_reason"] = event["delta"]["stop_reason"]
                state["usage"].update(event["usage"])

        def finalize() -> Any:
            return {
                "id": state["id"],
                "type": "message",
                "role": "assistant",
                "model": state["model"],
                "content": [{"type": "text", "text": state["text"]}],
                "stop_reason": state["stop_reason"],
                "stop_sequence": None,
                "usage": state["usage"],
            }

        stream = await nemo_relay.llm.stream_execute(
            "anthropic",
            LLMRequest(headers, {**content, "messages": history, "stream": True}),
            provider,
            collect,
            finalize,
            attributes=LLMAttributes(LLMAttributes.STREAMING),
            model_name="claude-sonnet-4-20250514",
            codec=codec,
            response_codec=codec,
        )
        assert [c async for c in stream] == ANTHROPIC_STREAM
    assert state["text"] == "Hello world"


async def llm_provider_error_with_sanitized_request() -> None:
    def redact(req: LLMRequest, ctx: Any) -> LLMRequest:
        return LLMRequest(req.headers, json.loads(json.dumps(req.content).replace("123-45-6789", "[SSN]")))

    nemo_relay.guardrails.register_llm_sanitize_request("redact-ssn", 10, redact)
    err = ConnectionError("upstream timeout")
    try:

        async def provider(req: LLMRequest) -> Any:
            assert "123-45-6789" in json.dumps(req.content)
            raise err

        codec = OpenAIChatCodec()
        with pytest.raises(ConnectionError) as info:
            await nemo_relay.llm.execute(
                "openai",
                chat("My SSN is 123-45-6789"),
                provider,
                model_name="gpt-4o",
                data={"retry": 0},
                codec=codec,
                response_codec=codec,
            )
        assert info.value is err
    finally:
        nemo_relay.guardrails.deregister_llm_sanitize_request("redact-ssn")


SCENARIOS = {
    "nested_scopes_and_marks": (nested_scopes_and_marks, lambda: expected("nested_scopes_and_marks")),
    "managed_llm_call_with_openai_chat_codecs": (
        managed_llm_call_with_openai_chat_codecs,
        lambda: expected("managed_llm_call_with_openai_chat_codecs"),
    ),
    "managed_and_manual_tool_calls": (managed_and_manual_tool_calls, lambda: expected("managed_and_manual_tool_calls")),
    "llm_conditional_guardrail_rejection": (
        llm_conditional_guardrail_rejection,
        lambda: expected("llm_conditional_guardrail_rejection"),
    ),
    "agent_session_history_projection_and_streaming": (
        agent_session_history_projection_and_streaming,
        lambda: expected("agent_session_history_projection_and_streaming"),
    ),
    "llm_provider_error_with_sanitized_request": (
        llm_provider_error_with_sanitized_request,
        lambda: expected("llm_provider_error_with_sanitized_request"),
    ),
}


def test_every_scenario_has_a_runner() -> None:
    assert sorted(VECTORS) == sorted(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str) -> None:
    body, exp = SCENARIOS[name]
    got = run_scenario(body)
    diffs = differences(got, exp())
    assert not diffs, "\n".join(diffs)


def test_comparison_detects_differences() -> None:
    got = run_scenario(nested_scopes_and_marks)
    exp = expected("nested_scopes_and_marks")
    assert not differences(got, exp)
    changed = [dict(e) for e in exp]
    changed[3]["data"] = {"docs": 4}
    assert len(differences(got, changed)) == 1
    assert differences(got[:-1], exp)
