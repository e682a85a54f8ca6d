#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures Tests/vectors/annotated_queries.json from the reference package (nemo-relay 0.10.4).

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install nemo-relay==0.10.4
    /tmp/ref/bin/python scripts/capture_annotated_queries.py > Tests/vectors/annotated_queries.json

Each case is an annotated request (`messages`, `instructions`) and what the reference's
`system_prompt()`, `last_user_message()` and `has_tool_calls()` return for it. Some requests are
built directly, others are what the reference's three request codecs decode from provider bodies.
"""

from __future__ import annotations

import json
import sys

from nemo_relay import LLMRequest
from nemo_relay.codecs import (
    AnnotatedLLMRequest,
    AnthropicMessagesCodec,
    OpenAIChatCodec,
    OpenAIResponsesCodec,
)


def T(t: str) -> dict:
    return {"type": "text", "text": t}


IMG = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def user(c):
    return {"role": "user", "content": c}


BUILT = {
    "empty": dict(messages=[]),
    "user_only": dict(messages=[user("hello")]),
    "system_then_user": dict(messages=[{"role": "system", "content": "S"}, user("u")]),
    "developer_then_user": dict(messages=[{"role": "developer", "content": "D"}, user("u")]),
    "developer_before_system": dict(messages=[{"role": "developer", "content": "D"}, {"role": "system", "content": "S"}]),
    "system_before_developer": dict(messages=[{"role": "system", "content": "S"}, {"role": "developer", "content": "D"}]),
    "instructions_win_over_system": dict(messages=[{"role": "system", "content": "S"}, user("u")], instructions="I"),
    "instructions_parts_first_text": dict(messages=[user("u")], instructions=[T("a"), T("b")]),
    "instructions_parts_image_first": dict(messages=[user("u")], instructions=[IMG, T("b")]),
    "instructions_empty_list_falls_back": dict(messages=[{"role": "system", "content": "S"}], instructions=[]),
    "instructions_empty_string": dict(messages=[{"role": "system", "content": "S"}], instructions=""),
    "system_parts_first_text": dict(messages=[{"role": "system", "content": [T("s1"), T("s2")]}]),
    "system_parts_image_first": dict(messages=[{"role": "system", "content": [IMG, T("s2")]}]),
    "system_without_text_falls_back": dict(messages=[{"role": "system", "content": [IMG]}, {"role": "developer", "content": "D"}]),
    "system_empty_string": dict(messages=[{"role": "system", "content": ""}, {"role": "developer", "content": "D"}]),
    "developer_parts": dict(messages=[{"role": "developer", "content": [T("d1"), T("d2")]}]),
    "system_late_in_history": dict(messages=[user("u"), {"role": "assistant", "content": "a"}, {"role": "system", "content": "late"}]),
    "last_of_several_users": dict(messages=[user("first"), {"role": "assistant", "content": "x"}, user("second")]),
    "user_parts_first_text": dict(messages=[user([T("a"), IMG, T("b")])]),
    "user_image_only_skipped": dict(messages=[user("first"), user([IMG])]),
    "user_tool_results_only_skipped": dict(messages=[user("first"), user([TOOL_RESULT])]),
    "user_tool_result_then_text": dict(messages=[user("first"), user([TOOL_RESULT, T("after")])]),
    "user_empty_list_skipped": dict(messages=[user("first"), user([])]),
    "user_empty_string_kept": dict(messages=[user("first"), user("")]),
    "assistant_after_last_user": dict(messages=[user("q"), {"role": "assistant", "content": "a"}]),
    "non_ascii": dict(messages=[{"role": "system", "content": "Réponds en français 🇫🇷"}, user("日本語で")]),
    "assistant_tool_use_block": dict(messages=[user("w?"), {"role": "assistant", "content": [T("let me"), TOOL_USE]}]),
    "tool_use_in_user_turn_is_not_a_call": dict(messages=[user([TOOL_USE])]),
    "assistant_tool_calls": dict(messages=[user("q"), {"role": "assistant", "content": None, "tool_calls": [CALL]}]),
    "assistant_tool_calls_empty": dict(messages=[{"role": "assistant", "content": "x", "tool_calls": []}]),
    "tool_call_message": dict(messages=[{"role": "tool_call", "call_id": "c", "name": "f", "arguments": "{}"}]),
    "tool_message_alone": dict(messages=[{"role": "tool", "tool_call_id": "c", "content": "r"}]),
    "tool_result_only_conversation": dict(messages=[user([TOOL_RESULT])]),
    "assistant_text_parts_only": dict(messages=[{"role": "assistant", "content": [T("hi")]}]),
}

DECODED = {
    "openai_chat_tools_round": (OpenAIChatCodec(), {"model": "gpt-4o", "messages": [
        {"role": "developer", "content": "Be terse."}, user("Weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}),
    "openai_chat_parts": (OpenAIChatCodec(), {"model": "gpt-4o", "messages": [
        {"role": "system", "content": [T("sys a"), T("sys b")]}, user([T("look"), IMG])]}),
    "openai_responses_instructions": (OpenAIResponsesCodec(), {"model": "gpt-4.1", "instructions": "I",
        "input": [{"role": "developer", "content": "D"}, user("u")]}),
    "openai_responses_function_call": (OpenAIResponsesCodec(), {"model": "gpt-4.1", "input": [
        user("u"), {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "o"}]}),
    "openai_responses_string_input": (OpenAIResponsesCodec(), {"model": "gpt-4.1", "input": "just text"}),
    "anthropic_system_blocks": (AnthropicMessagesCodec(), {"model": "claude-sonnet-4", "max_tokens": 64,
        "system": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}], "messages": [user("hi")]}),
    "anthropic_system_string": (AnthropicMessagesCodec(), {"model": "claude-sonnet-4", "max_tokens": 64,
        "system": "S", "messages": [user("hi")]}),
    "anthropic_tool_round": (AnthropicMessagesCodec(), {"model": "claude-sonnet-4", "max_tokens": 64, "messages": [
        user("Weather?"), {"role": "assistant", "content": [TOOL_USE]}, user([TOOL_RESULT])]}),
    "anthropic_tool_result_with_text": (AnthropicMessagesCodec(), {"model": "claude-sonnet-4", "max_tokens": 64,
        "messages": [user("Weather?"), {"role": "assistant", "content": [TOOL_USE]},
                     user([TOOL_RESULT, {"type": "text", "text": "and tomorrow?"}])]}),
}


def annotated_json(a: AnnotatedLLMRequest) -> dict:
    out = {"messages": a.messages}
    if a.instructions is not None:
        out["instructions"] = a.instructions
    return out


def answers(a: AnnotatedLLMRequest) -> dict:
    return {"system_prompt": a.system_prompt(), "last_user_message": a.last_user_message(),
            "has_tool_calls": a.has_tool_calls()}


def main() -> None:
    cases = []
    for name, kw in BUILT.items():
        a = AnnotatedLLMRequest(**kw)
        cases.append({"name": name, "annotated": annotated_json(a), "expected": answers(a)})
    for name, (codec, body) in DECODED.items():
        a = codec.decode(LLMRequest({}, body))
        cases.append({"name": name, "annotated": annotated_json(a), "expected": answers(a)})
    json.dump({"source": "nemo-relay 0.10.4 (scripts/capture_annotated_queries.py)", "cases": cases},
              sys.stdout, indent=1, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
