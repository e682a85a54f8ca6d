# SPDX-License-Identifier: Apache-2.0
"""An agent-style example: an agent scope, a managed LLM call with the OpenAI Chat codec and a
request intercept, a tool call chosen by the model, a guardrail, and a subscriber printing events.

    NEMO_RELAY_LIB_PATH=$(swift build --show-bin-path)/libnemorelay.so \
        PYTHONPATH=bindings/python python3 examples/python/agent.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nemo_relay
from nemo_relay import LLMRequest, LLMRequestInterceptOutcome, ScopeType, ToolExecutionResult
from nemo_relay.codecs import OpenAIChatCodec

events: list[Any] = []


def on_event(ev: Any) -> None:
    events.append(ev)


def add_system_prompt(_name: str, request: LLMRequest, annotated: Any) -> LLMRequestInterceptOutcome:
    if annotated is not None and annotated.system_prompt() is None:
        annotated.messages = [{"role": "system", "content": "You are a weather agent."}, *annotated.messages]
    return LLMRequestInterceptOutcome(request, annotated)


def block_secrets(request: LLMRequest) -> str | None:
    return "request mentions a secret" if "secret" in json.dumps(request.content) else None


async def fake_model(request: LLMRequest) -> dict[str, Any]:
    """Stands in for a provider SDK: asks for the weather tool, then answers with its result."""
    await asyncio.sleep(0)
    messages = request.content["messages"]
    assert messages[0]["role"] == "system", "the intercept's system prompt reached the provider"
    if messages[-1]["role"] == "tool":
        text = f"It is {json.loads(messages[-1]['content'])['temp_c']} C in Paris."
        return {
            "id": "c2",
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    return {
        "id": "c1",
        "model": "gpt-4o-mini",
        "choices": [
            {"message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ],
    }


async def get_weather(args: dict[str, Any]) -> ToolExecutionResult[dict[str, Any]]:
    return ToolExecutionResult({"city": args["city"], "temp_c": 18}, annotation={"source": "example"})


async def run_agent(question: str) -> str:
    codec = OpenAIChatCodec()
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    with nemo_relay.scope.scope("weather-agent", ScopeType.Agent, input={"question": question}):
        for _turn in range(3):
            request = LLMRequest({"authorization": "Bearer sk-example"}, {"model": "gpt-4o-mini", "messages": messages})
            response = await nemo_relay.llm.execute(
                "openai", request, fake_model, model_name="gpt-4o-mini", codec=codec, response_codec=codec
            )
            message = response["choices"][0]["message"]
            messages.append(message)
            for call in message.get("tool_calls") or []:
                result = await nemo_relay.tools.execute(
                    call["function"]["name"],
                    json.loads(call["function"]["arguments"]),
                    get_weather,
                    tool_call_id=call["id"],
                )
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result.result)})
            if not message.get("tool_calls"):
                return message["content"]
    raise RuntimeError("no answer")


async def main() -> None:
    nemo_relay.subscribers.register("example-printer", on_event)
    nemo_relay.intercepts.register_llm_request("example.system-prompt", 10, False, add_system_prompt)
    nemo_relay.guardrails.register_llm_conditional_execution("example.no-secrets", 1, block_secrets)

    print(await run_agent("What is the weather in Paris?"))
    try:
        await run_agent("Tell me the secret password")
    except RuntimeError as e:
        print(f"rejected: {e}")

    await nemo_relay.subscribers.flush_async()
    for ev in events:
        if ev.kind == "scope" and ev.category in ("agent", "llm", "tool"):
            extra = ""
            ann = ev.annotated_response if ev.scope_category == "end" and ev.category == "llm" else None
            if ann is not None:
                extra = f" finish_reason={ann.finish_reason}"
            print(f"  {ev.scope_category:5} {ev.category:5} {ev.name}{extra}")
    assert any(ev.name == "get_weather" for ev in events)


if __name__ == "__main__":
    asyncio.run(main())
