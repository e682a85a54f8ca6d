#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures the ATIF golden vectors (Tests/vectors/atif.json) from the reference package.

Run it with the interpreter of a virtual environment that has the reference installed:

    python -m venv /tmp/ref && /tmp/ref/bin/pip install nemo-relay==0.10.4
    /tmp/ref/bin/python scripts/capture_atif_vectors.py [--only NAME] [--print]

Every scenario runs on a fresh thread (so it gets its own scope stack) with a plain subscriber that
collects the raw ATOF events (`event.to_json()`) and a reference `AtifExporter` registered beside it.
A case records the exporter options, the raw events exactly as the reference emitted them, the
reference's `export()` dict (`expected`) and its `export_json()` string (`expected_json`). Uuids and the
timestamps of managed calls differ from run to run; the builder under test must reproduce the expected
output from the recorded events, so regenerating the file is always safe.

The scenarios avoid the one place where the reference is not deterministic: tool results for several
different unknown tool-call ids that end in one batch and end up in a single trailing `system` step come
out in hash-map order there (the Swift builder keeps their first-seen order).
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import threading

import nemo_relay as nr
from nemo_relay import (
    LLMAttributes,
    LLMRequest,
    ScopeType,
    ToolExecutionResult,
    guardrails,
    llm,
    scope,
    subscribers,
    tools,
)
from nemo_relay.codecs import AnthropicMessagesCodec, OpenAIChatCodec, OpenAIResponsesCodec

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def at(ms, us=0):
    """A fixed timestamp `ms` milliseconds (plus `us` microseconds) after T0."""
    return T0 + dt.timedelta(milliseconds=ms, microseconds=us)


def chat_request(*messages, model="gpt-4o", **extra):
    return LLMRequest({}, {"model": model, "messages": list(messages), **extra})


def chat_response(content=None, tool_calls=None, model="gpt-4o-2024-08-06", usage=None, rid="chatcmpl-1"):
    message = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body = {
        "id": rid,
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def fn_call(call_id, name, arguments):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}

SCENARIOS = []


def scenario(name, description, **options):
    def register(fn):
        SCENARIOS.append((name, description, options, fn))
        return fn

    return register


# --------------------------------------------------------------------------------------------------
# Scenarios. Manual calls (llm.call / tools.call) carry explicit timestamps; managed calls use the clock.
# --------------------------------------------------------------------------------------------------


@scenario(
    "single_llm_call",
    "One Agent scope with one manual OpenAI Chat call: a user step and an agent step with metrics.",
    model_name="gpt-4o",
)
def single_llm_call():
    with scope.scope("weather-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(100)):
        h = llm.call(
            "openai",
            chat_request(SYSTEM, {"role": "user", "content": "Hello there"}),
            model_name="gpt-4o",
            timestamp=at(10),
        )
        llm.call_end(
            h,
            chat_response(
                "Hi! How can I help?", usage={"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28}
            ),
            timestamp=at(20, 250),
        )


@scenario(
    "llm_tool_llm",
    "LLM asks for a tool (string arguments), the tool runs with the same tool_call_id, a second LLM call answers.",
)
def llm_tool_llm():
    with scope.scope("weather-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        user = {"role": "user", "content": "Weather in Paris?"}
        h = llm.call("openai", chat_request(SYSTEM, user), model_name="gpt-4o", timestamp=at(10))
        call = fn_call("call_1", "get_weather", '{"city":"Paris"}')
        llm.call_end(
            h,
            chat_response(None, [call], usage={"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}),
            timestamp=at(20),
        )
        th = tools.call(
            "get_weather", {"city": "Paris"}, tool_call_id="call_1", metadata={"attempt": 1}, timestamp=at(30)
        )
        tools.call_end(th, ToolExecutionResult({"temp_c": 18, "sky": "clear"}), timestamp=at(40))
        assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
        tool_msg = {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c":18,"sky":"clear"}'}
        h = llm.call("openai", chat_request(SYSTEM, user, assistant, tool_msg), model_name="gpt-4o", timestamp=at(50))
        llm.call_end(
            h,
            chat_response(
                "It is 18 C and clear in Paris.",
                usage={"prompt_tokens": 80, "completion_tokens": 9, "total_tokens": 89},
                rid="chatcmpl-2",
            ),
            timestamp=at(60),
        )


@scenario(
    "two_tools_one_turn",
    "One LLM response with two tool calls; both tools run (ending in reverse order), then a final answer.",
)
def two_tools_one_turn():
    with scope.scope("travel-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        user = {"role": "user", "content": "Weather and time in Tokyo?"}
        h = llm.call("openai", chat_request(user), model_name="gpt-4o", timestamp=at(10))
        calls = [
            fn_call("call_w", "get_weather", '{"city":"Tokyo"}'),
            fn_call("call_t", "get_time", '{"tz":"Asia/Tokyo"}'),
        ]
        llm.call_end(
            h, chat_response("", calls, usage={"prompt_tokens": 30, "completion_tokens": 20}), timestamp=at(20)
        )
        tw = tools.call("get_weather", {"city": "Tokyo"}, tool_call_id="call_w", timestamp=at(30))
        tt = tools.call("get_time", {"tz": "Asia/Tokyo"}, tool_call_id="call_t", timestamp=at(31))
        tools.call_end(tt, ToolExecutionResult("09:15"), timestamp=at(40))
        tools.call_end(tw, ToolExecutionResult({"temp_c": 22}), timestamp=at(41))
        h = llm.call(
            "openai",
            chat_request(
                user,
                {"role": "assistant", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_w", "content": "22"},
                {"role": "tool", "tool_call_id": "call_t", "content": "09:15"},
            ),
            model_name="gpt-4o",
            timestamp=at(50),
        )
        llm.call_end(
            h,
            chat_response("22 C at 09:15.", usage={"prompt_tokens": 60, "completion_tokens": 8}, rid="chatcmpl-2"),
            timestamp=at(60),
        )


@scenario(
    "unmatched_tool_results",
    "A tool before any LLM call, a tool whose tool_call_id the LLM never issued, and an issued call that never ran.",
)
def unmatched_tool_results():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        t0 = tools.call("warmup", {"n": 1}, tool_call_id="pre_1", timestamp=at(5))
        tools.call_end(t0, ToolExecutionResult("warm"), timestamp=at(6))
        h = llm.call("openai", chat_request({"role": "user", "content": "Look it up"}), timestamp=at(10))
        llm.call_end(
            h,
            chat_response(None, [fn_call("call_a", "lookup", '{"q":"x"}'), fn_call("call_b", "lookup", '{"q":"y"}')]),
            timestamp=at(20),
        )
        t1 = tools.call("lookup", {"q": "z"}, tool_call_id="call_zzz", timestamp=at(30))
        tools.call_end(t1, ToolExecutionResult({"hits": 0}), timestamp=at(40))
        t2 = tools.call("lookup", {"q": "x"}, tool_call_id="call_a", timestamp=at(41))
        tools.call_end(t2, ToolExecutionResult({"hits": 3}), timestamp=at(42))


@scenario(
    "tool_argument_normalisation",
    "Tool-call arguments as a JSON object string, invalid JSON, a JSON array string, a number, null, an object and "
    "missing; a call without id; extra keys on a call and on its function.",
)
def tool_argument_normalisation():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        h = llm.call("openai", chat_request({"role": "user", "content": "Do things"}), timestamp=at(10))
        calls = [
            fn_call("c1", "object_string", '{"a": 1, "b": [true, null]}'),
            fn_call("c2", "invalid_json", "{not json"),
            fn_call("c3", "array_string", "[1, 2, 3]"),
            fn_call("c4", "scalar_string", '"just text"'),
            {"id": "c5", "type": "function", "function": {"name": "number_args", "arguments": 42}},
            {"id": "c6", "type": "function", "function": {"name": "null_args", "arguments": None}},
            {"id": "c7", "type": "function", "function": {"name": "object_args", "arguments": {"k": "v"}}},
            {"id": "c8", "type": "function", "function": {"name": "missing_args"}},
            {"type": "function", "function": {"name": "no_id", "arguments": "{}"}},
            {
                "id": "c10",
                "type": "function",
                "index": 9,
                "function": {"name": "with_extra", "arguments": "{}", "strict": True},
            },
            {"type": "function", "function": {"arguments": "{}"}},
        ]
        llm.call_end(h, chat_response(None, calls), timestamp=at(20))


@scenario(
    "anthropic_cache_usage",
    "Manual Anthropic Messages call with text and tool_use blocks and cache read/write usage, the tool result, then "
    "a tool_result continuation answered with usage that reports a USD cost object.",
)
def anthropic_cache_usage():
    with scope.scope("claude-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        user = {"role": "user", "content": "What is 6*7? Use the calculator."}
        req = {"model": "claude-sonnet-4-20250514", "max_tokens": 256, "system": "Be exact.", "messages": [user]}
        h = llm.call("anthropic", LLMRequest({}, req), model_name="claude-sonnet-4-20250514", timestamp=at(10))
        tool_use = {"type": "tool_use", "id": "toolu_01", "name": "calculator", "input": {"expr": "6*7"}}
        llm.call_end(
            h,
            {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "content": [{"type": "text", "text": "Let me compute that."}, tool_use],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 12,
                    "output_tokens": 30,
                    "cache_read_input_tokens": 200,
                    "cache_creation_input_tokens": 50,
                },
            },
            timestamp=at(20),
        )
        th = tools.call("calculator", {"expr": "6*7"}, tool_call_id="toolu_01", timestamp=at(30))
        tools.call_end(th, ToolExecutionResult("42", annotation={"exact": True}), timestamp=at(40))
        req2 = dict(req)
        req2["messages"] = [
            user,
            {"role": "assistant", "content": [{"type": "text", "text": "Let me compute that."}, tool_use]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "42"}]},
        ]
        h = llm.call("anthropic", LLMRequest({}, req2), model_name="claude-sonnet-4-20250514", timestamp=at(50))
        llm.call_end(
            h,
            {
                "id": "msg_02",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "content": [{"type": "text", "text": "6*7 = 42."}],
                "stop_reason": "end_turn",
                "usage": {
                    "input_tokens": 20,
                    "output_tokens": 8,
                    "cache_read_input_tokens": 250,
                    "cost": {"total": 0.00125, "currency": "USD"},
                },
            },
            timestamp=at(60),
        )


@scenario(
    "managed_openai_chat_codecs",
    "Managed llm.execute with OpenAIChatCodec request and response codecs (annotated request/response on the "
    "events), a tool_use answer with cached prompt tokens, a managed tool with an annotation, then the answer.",
    model_name="gpt-4o-mini",
    tool_definitions=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
)
def managed_openai_chat_codecs():
    async def body():
        with scope.scope("chat-agent", ScopeType.Agent):
            user = {"role": "user", "content": "Weather in Oslo?"}
            tool = {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
            call = fn_call("call_9", "get_weather", '{"city":"Oslo"}')

            def provider1(_req):
                return chat_response(
                    None,
                    [call],
                    model="gpt-4o-mini-2024-07-18",
                    usage={
                        "prompt_tokens": 120,
                        "completion_tokens": 15,
                        "total_tokens": 135,
                        "prompt_tokens_details": {"cached_tokens": 64},
                    },
                )

            await llm.execute(
                "openai",
                LLMRequest(
                    {"x-request-id": "r1"}, {"model": "gpt-4o-mini", "messages": [SYSTEM, user], "tools": [tool]}
                ),
                provider1,
                model_name="gpt-4o-mini",
                codec=OpenAIChatCodec(),
                response_codec=OpenAIChatCodec(),
            )

            async def weather(args):
                return ToolExecutionResult({"city": args["city"], "temp_c": 4}, annotation={"source": "cache"})

            await tools.execute("get_weather", {"city": "Oslo"}, weather, tool_call_id="call_9")

            def provider2(_req):
                return chat_response(
                    "4 C in Oslo.",
                    model="gpt-4o-mini-2024-07-18",
                    usage={"prompt_tokens": 150, "completion_tokens": 6, "total_tokens": 156},
                    rid="chatcmpl-2",
                )

            history = [
                SYSTEM,
                user,
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_9", "content": '{"city":"Oslo","temp_c":4}'},
            ]
            await llm.execute(
                "openai",
                LLMRequest({}, {"model": "gpt-4o-mini", "messages": history, "tools": [tool]}),
                provider2,
                model_name="gpt-4o-mini",
                codec=OpenAIChatCodec(),
                response_codec=OpenAIChatCodec(),
            )

    asyncio.run(body())


@scenario(
    "openai_responses",
    "Managed OpenAI Responses calls with codecs: string input answered by a function_call item, then a "
    "function_call_output continuation answered by an output message.",
)
def openai_responses():
    async def body():
        with scope.scope("responses-agent", ScopeType.Agent):

            def provider1(_req):
                return {
                    "id": "resp_1",
                    "object": "response",
                    "status": "completed",
                    "model": "gpt-4.1",
                    "output": [
                        {
                            "type": "function_call",
                            "id": "fc_1",
                            "call_id": "call_r1",
                            "name": "search",
                            "arguments": '{"q":"swift"}',
                            "status": "completed",
                        }
                    ],
                    "usage": {
                        "input_tokens": 40,
                        "output_tokens": 12,
                        "total_tokens": 52,
                        "input_tokens_details": {"cached_tokens": 16},
                    },
                }

            await llm.execute(
                "openai.responses",
                LLMRequest({}, {"model": "gpt-4.1", "instructions": "Be brief.", "input": "Find swift docs"}),
                provider1,
                model_name="gpt-4.1",
                codec=OpenAIResponsesCodec(),
                response_codec=OpenAIResponsesCodec(),
            )

            async def search(_args):
                return ToolExecutionResult([{"type": "text", "text": "swift.org"}])

            await tools.execute("search", {"q": "swift"}, search, tool_call_id="call_r1")

            def provider2(_req):
                return {
                    "id": "resp_2",
                    "object": "response",
                    "status": "completed",
                    "model": "gpt-4.1",
                    "output": [
                        {
                            "type": "message",
                            "id": "msg_1",
                            "role": "assistant",
                            "status": "completed",
                            "content": [{"type": "output_text", "text": "See swift.org.", "annotations": []}],
                        }
                    ],
                    "usage": {"input_tokens": 70, "output_tokens": 5, "total_tokens": 75},
                }

            inputs = [
                {"type": "message", "role": "user", "content": "Find swift docs"},
                {"type": "function_call", "call_id": "call_r1", "name": "search", "arguments": '{"q":"swift"}'},
                {"type": "function_call_output", "call_id": "call_r1", "output": "swift.org"},
            ]
            await llm.execute(
                "openai.responses",
                LLMRequest({}, {"model": "gpt-4.1", "instructions": "Be brief.", "input": inputs}),
                provider2,
                model_name="gpt-4.1",
                codec=OpenAIResponsesCodec(),
                response_codec=OpenAIResponsesCodec(),
            )

    asyncio.run(body())


@scenario(
    "streaming_call",
    "Managed llm.stream_execute (Anthropic Messages codecs, STREAMING attribute): llm.chunk marks are skipped and "
    "the finalizer's Messages-shaped payload becomes the agent step.",
)
def streaming_call():
    async def body():
        with scope.scope("stream-agent", ScopeType.Agent):
            chunks = [
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_s",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4-20250514",
                        "content": [],
                        "usage": {"input_tokens": 25, "output_tokens": 1},
                    },
                },
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " world"}},
                {"type": "content_block_stop", "index": 0},
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
                {"type": "message_stop"},
            ]
            text = []

            async def provider(_req):
                for c in chunks:
                    yield c

            def collector(chunk):
                if chunk.get("type") == "content_block_delta":
                    text.append(chunk["delta"]["text"])

            def finalizer():
                return {
                    "id": "msg_s",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-20250514",
                    "content": [{"type": "text", "text": "".join(text)}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 25, "output_tokens": 3},
                }

            req = LLMRequest(
                {"anthropic-version": "2023-06-01"},
                {
                    "model": "claude-sonnet-4-20250514",
                    "max_tokens": 64,
                    "system": "Greet.",
                    "stream": True,
                    "messages": [{"role": "user", "content": "Say hello to the world"}],
                },
            )
            stream = await llm.stream_execute(
                "anthropic",
                req,
                provider,
                collector,
                finalizer,
                model_name="claude-sonnet-4-20250514",
                codec=AnthropicMessagesCodec(),
                response_codec=AnthropicMessagesCodec(),
                attributes=LLMAttributes(LLMAttributes.STREAMING),
            )
            async for _ in stream:
                pass

    asyncio.run(body())


@scenario(
    "provider_failures",
    "Two managed calls whose provider raises: one with handle data (becomes the end payload), one without (no end "
    "payload, so no agent step); then a failing managed tool.",
)
def provider_failures():
    async def body():
        with scope.scope("fragile-agent", ScopeType.Agent):

            def boom(_req):
                raise ConnectionError("upstream timeout")

            for data in ({"retry": 0}, None):
                try:
                    await llm.execute(
                        "openai",
                        chat_request({"role": "user", "content": "ping"}),
                        boom,
                        model_name="gpt-4o",
                        data=data,
                        codec=OpenAIChatCodec(),
                        response_codec=OpenAIChatCodec(),
                    )
                except ConnectionError:
                    pass

            async def broken(_args):
                raise RuntimeError("tool exploded")

            try:
                await tools.execute("broken_tool", {"x": 1}, broken, tool_call_id="call_x")
            except RuntimeError:
                pass

    asyncio.run(body())


@scenario(
    "guardrail_rejection",
    "An LLM conditional guardrail rejects the first managed call (guardrail scopes and a rejection mark, no LLM "
    "span) and allows the second.",
)
def guardrail_rejection():
    def block(request):
        text = json.dumps(request.content)
        return "request mentions a secret" if "secret" in text else None

    guardrails.register_llm_conditional_execution("atif-block-secrets", 1, block)
    try:

        async def body():
            with scope.scope("guarded-agent", ScopeType.Agent):
                try:
                    await llm.execute(
                        "openai",
                        chat_request({"role": "user", "content": "tell me the secret"}),
                        lambda _r: {"ok": True},
                        model_name="gpt-4o",
                    )
                except RuntimeError:
                    pass
                await llm.execute(
                    "openai",
                    chat_request({"role": "user", "content": "hello"}),
                    lambda _r: chat_response("Hello!"),
                    model_name="gpt-4o",
                )

        asyncio.run(body())
    finally:
        guardrails.deregister_llm_conditional_execution("atif-block-secrets")


@scenario(
    "nested_subagent",
    "A parent Agent calls a delegate tool; inside it a child Agent scope (metadata tool_call_id and session_id) "
    "runs its own LLM call; a second child Agent without a reference runs after the tool.",
)
def nested_subagent():
    with scope.scope("orchestrator", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)) as parent:
        h = llm.call(
            "openai", chat_request({"role": "user", "content": "Research Swift"}), model_name="gpt-4o", timestamp=at(10)
        )
        llm.call_end(
            h,
            chat_response(
                None,
                [fn_call("call_d", "delegate", '{"topic":"swift"}')],
                usage={"prompt_tokens": 10, "completion_tokens": 5},
            ),
            timestamp=at(20),
        )
        th = tools.call("delegate", {"topic": "swift"}, tool_call_id="call_d", timestamp=at(30))
        with scope.scope(
            "researcher",
            ScopeType.Agent,
            handle=parent,
            input={"topic": "swift"},
            metadata={"tool_call_id": "call_d", "session_id": "child-session"},
            timestamp=at(40),
            end_timestamp=at(90),
        ):
            h = llm.call(
                "openai",
                chat_request({"role": "user", "content": "Summarise Swift"}),
                model_name="gpt-4o-mini",
                timestamp=at(50),
            )
            llm.call_end(
                h,
                chat_response(
                    "Swift is a language.", model="gpt-4o-mini", usage={"prompt_tokens": 7, "completion_tokens": 4}
                ),
                timestamp=at(60),
            )
        tools.call_end(th, ToolExecutionResult("Swift is a language."), timestamp=at(95))
        with scope.scope("reviewer", ScopeType.Agent, timestamp=at(100), end_timestamp=at(200)):
            h = llm.call(
                "openai",
                chat_request({"role": "user", "content": "Review it"}),
                model_name="gpt-4o-mini",
                timestamp=at(110),
            )
            llm.call_end(h, chat_response("Looks right.", model="gpt-4o-mini"), timestamp=at(120))
        h = llm.call(
            "openai",
            chat_request(
                {"role": "user", "content": "Research Swift"},
                {"role": "assistant", "tool_calls": [fn_call("call_d", "delegate", '{"topic":"swift"}')]},
                {"role": "tool", "tool_call_id": "call_d", "content": "Swift is a language."},
            ),
            model_name="gpt-4o",
            timestamp=at(300),
        )
        llm.call_end(h, chat_response("Done: Swift is a language."), timestamp=at(310))


@scenario(
    "two_top_level_agents",
    "Two sibling top-level Agent scopes, each with one LLM call: no single root, so one flat trajectory.",
)
def two_top_level_agents():
    for i, agent in enumerate(("first-agent", "second-agent")):
        base = i * 100
        with scope.scope(agent, ScopeType.Agent, timestamp=at(base), end_timestamp=at(base + 50)):
            h = llm.call(
                "openai", chat_request({"role": "user", "content": f"Question {i + 1}"}), timestamp=at(base + 10)
            )
            llm.call_end(
                h,
                chat_response(f"Answer {i + 1}", usage={"prompt_tokens": 5 + i, "completion_tokens": 2}),
                timestamp=at(base + 20),
            )


@scenario(
    "llm_outside_agent",
    "An Agent scope plus one LLM call outside any agent: the agent tree cannot own every step, so the export is flat.",
)
def llm_outside_agent():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(50)):
        h = llm.call("openai", chat_request({"role": "user", "content": "inside"}), timestamp=at(10))
        llm.call_end(h, chat_response("in"), timestamp=at(20))
    h = llm.call("openai", chat_request({"role": "user", "content": "outside"}), timestamp=at(60))
    llm.call_end(h, chat_response("out"), timestamp=at(70))


@scenario(
    "multi_turn_conversation",
    "Three LLM calls in one agent: a first turn, a second user turn with history (fresh turn) and a same-turn "
    "continuation after a tool; plus a prompt-only request and content-part user messages.",
)
def multi_turn_conversation():
    with scope.scope("chat", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        u1 = {"role": "user", "content": "Hi"}
        h = llm.call("openai", chat_request(SYSTEM, u1), timestamp=at(10))
        llm.call_end(h, chat_response("Hello!"), timestamp=at(20))
        u2 = {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in"},
                {"type": "text", "text": "this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
        h = llm.call(
            "openai", chat_request(SYSTEM, u1, {"role": "assistant", "content": "Hello!"}, u2), timestamp=at(30)
        )
        call = fn_call("call_v", "vision", '{"url":"https://example.com/a.png"}')
        llm.call_end(h, chat_response(None, [call]), timestamp=at(40))
        th = tools.call("vision", {"url": "https://example.com/a.png"}, tool_call_id="call_v", timestamp=at(50))
        tools.call_end(th, ToolExecutionResult([{"type": "text", "text": "a cat"}]), timestamp=at(60))
        h = llm.call(
            "openai",
            chat_request(
                SYSTEM,
                u1,
                {"role": "assistant", "content": "Hello!"},
                u2,
                {"role": "assistant", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_v", "content": "a cat"},
            ),
            timestamp=at(70),
        )
        llm.call_end(h, chat_response("A cat."), timestamp=at(80))
        h = llm.call("completion", LLMRequest({}, {"model": "text-davinci", "prompt": "Say bye"}), timestamp=at(90))
        llm.call_end(h, {"answer": "Bye", "model": "text-davinci"}, timestamp=at(100))
        h = llm.call(
            "openai",
            chat_request({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "y"}]}),
            timestamp=at(110),
        )
        llm.call_end(
            h,
            {"content": {"unusual": True}, "usage": {"input_tokens": 3, "output_tokens": 1, "reasoning_tokens": 2}},
            timestamp=at(120),
        )


@scenario(
    "reasoning_and_outputs",
    "reasoning_effort on the request and reasoning on the response; tool outputs as null, a plain string, content "
    "parts, an image part and a number; a tool ending twice.",
)
def reasoning_and_outputs():
    with scope.scope("thinker", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        h = llm.call(
            "openai", chat_request({"role": "user", "content": "Think"}, reasoning_effort="high"), timestamp=at(10)
        )
        calls = [fn_call(f"r{i}", f"tool_{i}", "{}") for i in range(5)]
        llm.call_end(
            h,
            {
                "reasoning": "Let me think.",
                "tool_calls": calls,
                "model": "o3",
                "token_usage": {"prompt_tokens": 9, "completion_tokens": 99, "reasoning_tokens": 90},
            },
            timestamp=at(20),
        )
        outputs = [
            None,
            "plain text",
            [{"type": "text", "text": "part"}],
            [{"type": "image", "source": {"media_type": "image/png", "path": "/tmp/a.png"}}],
            3.5,
        ]
        for i, out in enumerate(outputs):
            th = tools.call(f"tool_{i}", {}, tool_call_id=f"r{i}", timestamp=at(30 + i * 2))
            tools.call_end(th, ToolExecutionResult(out), timestamp=at(31 + i * 2))
            if i == 1:
                tools.call_end(th, ToolExecutionResult("again"), timestamp=at(31 + i * 2, 500))


@scenario(
    "tools_without_ids",
    "Tools without tool_call_id: matched to the LLM's calls by name and arguments, by a unique name, or given a "
    "synthetic id (the tool uuid) and appended to the agent step's tool_calls.",
)
def tools_without_ids():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        h = llm.call("openai", chat_request({"role": "user", "content": "go"}), timestamp=at(10))
        calls = [
            fn_call("k1", "fetch", '{"u":"a"}'),
            fn_call("k2", "fetch", '{"u":"b"}'),
            fn_call("k3", "solo", '{"z":1}'),
        ]
        llm.call_end(h, chat_response(None, calls), timestamp=at(20))
        for i, (name, args) in enumerate(
            (("fetch", {"u": "b"}), ("fetch", {"u": "a"}), ("solo", {"z": 2}), ("extra_tool", {"e": 1}))
        ):
            th = tools.call(name, args, timestamp=at(30 + i * 10))
            tools.call_end(th, ToolExecutionResult({"i": i}), timestamp=at(35 + i * 10))


@scenario(
    "duplicate_llm_spans",
    "The same physical request reported twice under one parent (a hook span and a gateway span overlapping in "
    "time): the lower-fidelity span is suppressed and its metrics fill gaps in the kept one.",
)
def duplicate_llm_spans():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        req = chat_request({"role": "user", "content": "dup"})
        a = llm.call("openai", req, metadata={"gateway_path": "/v1/chat/completions"}, timestamp=at(10))
        b = llm.call("openai", req, metadata={"hook_event_name": "llm_request"}, timestamp=at(11))
        llm.call_end(b, chat_response("same answer"), timestamp=at(19))
        llm.call_end(
            a,
            chat_response("same answer", usage={"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}),
            timestamp=at(20),
        )


@scenario(
    "overlapping_llm_calls",
    "Two LLM calls in flight at once: A (a same-turn continuation with reasoning_effort) and B (a fresh turn). "
    "Each agent step gets its own call's request and effort; A's step is completed when B's ends.",
)
def overlapping_llm_calls():
    with scope.scope("parallel-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        history = [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": None, "tool_calls": [fn_call("c0", "lookup", "{}")]},
            {"role": "tool", "tool_call_id": "c0", "content": "found"},
        ]
        a = llm.call("openai", chat_request(*history, reasoning_effort="high"), timestamp=at(10))
        b = llm.call("openai", chat_request({"role": "user", "content": "second question"}), timestamp=at(11))
        llm.call_end(
            a, chat_response("Answer A, checking more.", [fn_call("c1", "lookup", '{"q":"more"}')]), timestamp=at(20)
        )
        th = tools.call("lookup", {"q": "more"}, tool_call_id="c1", timestamp=at(21))
        tools.call_end(th, ToolExecutionResult("more found"), timestamp=at(22))
        llm.call_end(b, chat_response("Answer B."), timestamp=at(30))


@scenario(
    "deferred_tool_result",
    "A tool result that ends before the LLM end issuing its call is held back, then attached (with its tool "
    "metadata) to that agent step.",
)
def deferred_tool_result():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(1000)):
        h = llm.call("openai", chat_request({"role": "user", "content": "run it"}), timestamp=at(10))
        th = tools.call("runner", {"job": 7}, tool_call_id="c7", timestamp=at(12))
        tools.call_end(th, ToolExecutionResult({"status": "done"}), timestamp=at(14))
        llm.call_end(h, chat_response("Started the job.", [fn_call("c7", "runner", '{"job":7}')]), timestamp=at(20))


@scenario(
    "agent_scope_roles",
    "A root agent with a nested `turn`-role agent (folded into the root), a `subagent`-role agent without steps "
    "(dropped with its reference), and a child agent delegated through its input's tool_call_id.",
)
def agent_scope_roles():
    with scope.scope(
        "root", ScopeType.Agent, metadata={"session_id": "root-session"}, timestamp=at(0), end_timestamp=at(1000)
    ):
        with scope.scope(
            "turn-1",
            ScopeType.Agent,
            metadata={"nemo_relay_scope_role": "turn"},
            timestamp=at(5),
            end_timestamp=at(100),
        ):
            h = llm.call("openai", chat_request({"role": "user", "content": "plan"}), timestamp=at(10))
            llm.call_end(h, chat_response(None, [fn_call("d1", "delegate", '{"who":"helper"}')]), timestamp=at(20))
            th = tools.call("delegate", {"who": "helper"}, tool_call_id="d1", timestamp=at(30))
            with scope.scope(
                "helper",
                ScopeType.Agent,
                input={"tool_call_id": "d1", "goal": "help"},
                timestamp=at(40),
                end_timestamp=at(70),
            ):
                h = llm.call("openai", chat_request({"role": "user", "content": "help"}), timestamp=at(50))
                llm.call_end(h, chat_response("helped"), timestamp=at(60))
            tools.call_end(th, ToolExecutionResult("helped"), timestamp=at(80))
        with scope.scope(
            "idle",
            ScopeType.Agent,
            metadata={"nemo_relay_scope_role": "subagent"},
            timestamp=at(110),
            end_timestamp=at(120),
        ):
            scope.event("idle-mark", data={"x": 1}, timestamp=at(115))


@scenario(
    "marks_only",
    "Only marks (with data, with empty data, with metadata, an llm.chunk): marks never become steps.",
)
def marks_only():
    with scope.scope("quiet-agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(100)):
        scope.event("plan-ready", data={"steps": 2}, timestamp=at(10))
        scope.event("empty", data={}, timestamp=at(20))
        scope.event("meta-only", metadata={"hook_event_name": "SessionStart"}, timestamp=at(30))
        scope.event("llm.chunk", data={"chunk_index": 0}, timestamp=at(40))


@scenario("no_events", "Nothing happens: an empty trajectory with final_metrics.total_steps = 0.")
def no_events():
    pass


@scenario(
    "options_tool_definitions_extra",
    "Exporter options with model_name, tool_definitions and extra; a session id that is not a uuid.",
    model_name="gpt-4o",
    tool_definitions=[
        {
            "name": "get_weather",
            "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
        {"name": "zeta", "alpha": 1},
    ],
    extra={"run": {"id": 7, "tags": ["a", "b"]}, "note": "caf\u00e9 \u2615", "ratio": 0.00001},
)
def options_tool_definitions_extra():
    with scope.scope("agent", ScopeType.Agent, timestamp=at(0), end_timestamp=at(100)):
        h = llm.call(
            "openai",
            chat_request({"role": "user", "content": 'Quote: "hi"\n\ttab \u00fc \U0001f600'}),
            timestamp=at(10),
        )
        llm.call_end(
            h,
            chat_response("ok \u2713", usage={"prompt_tokens": 3, "completion_tokens": 1, "cost_usd": 0.000002}),
            timestamp=at(20),
        )


# --------------------------------------------------------------------------------------------------
# Capture
# --------------------------------------------------------------------------------------------------


def capture(name, description, options, fn):
    events = []
    sub = f"atif-capture-{name}"
    subscribers.register(sub, lambda e: events.append(json.loads(e.to_json())))
    exporter = nr.AtifExporter("session-" + name.replace("_", "-"), "capture-agent", "1.2.3", **options)
    exporter.register(sub + "-exporter")
    errors = []

    def runner():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    subscribers.flush()
    expected = exporter.export()
    expected_json = exporter.export_json()
    exporter.deregister(sub + "-exporter")
    subscribers.deregister(sub)
    if errors:
        raise errors[0]
    if json.loads(expected_json) != expected:
        raise AssertionError(f"{name}: export() and export_json() disagree")
    record = {
        "session_id": "session-" + name.replace("_", "-"),
        "agent_name": "capture-agent",
        "agent_version": "1.2.3",
    }
    for key in ("model_name", "tool_definitions", "extra"):
        if key in options:
            record[key] = options[key]
    return {
        "name": name,
        "description": description,
        "options": record,
        "events": events,
        "expected": expected,
        "expected_json": expected_json,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="capture only this scenario")
    parser.add_argument("--print", action="store_true", help="print the cases instead of writing the file")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "vectors", "atif.json"))
    args = parser.parse_args()
    cases = [capture(*s) for s in SCENARIOS if args.only in (None, s[0])]
    if args.print:
        for case in cases:
            for event in case["events"]:
                print("EVENT", json.dumps(event, sort_keys=True))
            print(json.dumps(case["expected"], indent=1, ensure_ascii=False))
            print("JSON", case["expected_json"])
        return
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(cases, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
