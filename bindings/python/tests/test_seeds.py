# SPDX-License-Identifier: Apache-2.0
"""The Python examples of the published documentation pages, run unchanged (copied verbatim into
tests/seeds/*.snippet; docs/python.md, "Documentation examples")."""

from __future__ import annotations

import ast
import asyncio
import json
import types
from pathlib import Path
from typing import Any

from conftest import arun

import nemo_relay

SEEDS = Path(__file__).parent / "seeds"


async def exec_seed(name: str) -> dict[str, Any]:
    """Executes a snippet as a module body; top-level ``await`` is allowed, as in the docs."""
    src = (SEEDS / name).read_text()
    code = compile(src, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    ns: dict[str, Any] = {"__name__": f"seed_{name.split('.')[0]}"}
    r = eval(code, ns)
    if isinstance(r, types.CoroutineType) or asyncio.iscoroutine(r):
        await r
    return ns


def test_seed000_wrap_llm_call(collector: Any) -> None:
    async def main() -> Any:
        ns = await exec_seed("seed000_wrap_llm_call.snippet")
        return await ns["framework_llm"]("demo-provider", {"prompt": "hello"})

    result = arun(main)
    assert result == {"text": "hi", "request": {"prompt": "hello"}}
    events = [e for e in collector.events() if e["name"] == "demo-provider"]
    assert [e["scope_category"] for e in events] == ["start", "end"]
    assert events[0]["category_profile"]["model_name"] == "demo-model"
    # A non-object content round-trips too.
    assert arun(lambda: _framework_llm_with("plain text")) == {"text": "hi", "request": "plain text"}


async def _framework_llm_with(payload: Any) -> Any:
    ns = await exec_seed("seed000_wrap_llm_call.snippet")
    return await ns["framework_llm"]("demo-provider", payload)


def test_seed001_system_message_with_codec(collector: Any) -> None:
    async def main() -> Any:
        try:
            ns = await exec_seed("seed001_system_message_codec.snippet")
        finally:
            nemo_relay.intercepts.deregister_llm_request("framework.add_system_message")
        return ns["response"]

    response = arun(main)
    assert response["choices"][0]["message"]["content"] == "Codec-enabled response."
    assert response["model"] == "gpt-4o-mini"
    start, end = [e for e in collector.events() if e["name"] == "openai-chat"]
    messages = start["category_profile"]["annotated_request"]["messages"]
    assert messages[0] == {"role": "system", "content": "Answer with concise technical detail."}
    # The codec wrote the edit back into the provider payload recorded on the start event.
    assert start["data"]["content"]["messages"][0]["role"] == "system"
    assert end["category_profile"]["annotated_response"]["message"] == "Codec-enabled response."


def test_seed001_custom_framework_codec(collector: Any) -> None:
    async def main() -> Any:
        ns = await exec_seed("seed001_custom_codec.snippet")
        codec = ns["FrameworkChatCodec"]()
        assert isinstance(codec, nemo_relay.codecs.LlmCodec)
        seen: list[Any] = []

        def add_turn(_name: Any, request: Any, annotated: Any) -> Any:
            annotated.messages = [*annotated.messages, {"role": "user", "content": "added"}]
            return nemo_relay.LLMRequestInterceptOutcome(request, annotated)

        nemo_relay.intercepts.register_llm_request("seed.add_turn", 1, False, add_turn)
        try:

            async def provider(req: Any) -> Any:
                seen.append(req.content)
                return {"ok": True}

            request = nemo_relay.LLMRequest(
                {},
                {
                    "turns": [{"role": "user", "content": "hi"}],
                    "model_name": "fw-1",
                    "temperature": 0.5,
                    "tenant_id": None,
                },
            )
            out = await nemo_relay.llm.execute("framework", request, provider, codec=codec)
        finally:
            nemo_relay.intercepts.deregister_llm_request("seed.add_turn")
        return out, seen

    out, seen = arun(main)
    assert out == {"ok": True}
    assert seen[0]["turns"][-1] == {"role": "user", "content": "added"}
    assert seen[0]["model_name"] == "fw-1"
    start = [e for e in collector.events() if e["name"] == "framework"][0]
    ann = start["category_profile"]["annotated_request"]
    assert ann["tenant_id"] is None and ann["model"] == "fw-1"
    assert ann["params"] == {"temperature": 0.5}


def test_seed004_projection_tool(collector: Any) -> None:
    ns = arun(lambda: exec_seed("seed004_projection.snippet"))
    result = ns["result"]
    assert isinstance(result, nemo_relay.ToolExecutionResult)
    assert result.result == {"hits": 2}
    start, end = [e for e in collector.events() if e["name"] == "search"]
    assert start["data"] == {"client_id": "client-1", "query": "weather"}
    assert end["data"] == {"hits": 2}
    json.dumps(end)
