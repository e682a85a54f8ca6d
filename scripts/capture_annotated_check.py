#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures Tests/vectors/annotated_check.json from the reference package (nemo-relay 0.10.4).

    /tmp/nemo-relay-ref-venv/bin/python scripts/capture_annotated_check.py > Tests/vectors/annotated_check.json

Each case sets annotated-request fields the way a Python user does, through the constructor
(``mode: "new"``, keyword arguments in ``fields``, ``messages`` included) or one setter
(``mode: "set"``, one field), and records what the reference does: the exception class and message
(``error``), or the value the getter of every given field returns (``value``). Every value is JSON, so
the same cases drive nemo_relay_annotated_request_check (docs/annotated-request.md, "Checking fields").
"""

from __future__ import annotations

import json
import sys
from typing import Any

from nemo_relay.codecs import AnnotatedLLMRequest

U = {"role": "user", "content": "hi"}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
FN = {"type": "function", "function": {"name": "f"}}
NATIVE = {"provider": "p", "kind": "k", "value": 1}

SET: dict[str, list[Any]] = {
    "model": ["gpt", None, 1, True, 1.5, [], {}],
    "user": ["u", 1],
    "previous_response_id": ["r", 2.5],
    "service_tier": ["bogus", 1],
    "store": [True, None, 0, 1.5, "true", [], {}],
    "stream": [False, 1],
    "parallel_tool_calls": [True, 0],
    "max_output_tokens": [5, 0, -1, 1.5, True, False, "3", [1], {}, None, 2**40, 2**64 - 1],
    "max_tool_calls": [-1, 0, 1.5, True],
    "top_logprobs": [-1, 0, 300, 1.5, True],
    "metadata": [1, [1], {"a": 1}],
    "include": ["x", [1]],
    "reasoning": [{"effort": "low"}],
    "truncation": ["auto", 1],
    "extra": [{}, {"a": 1}, [], "x", None, 1],
    "params": [
        1, [], "x", {}, {"foo": 1}, {"temperature": 3}, {"temperature": -1}, {"temperature": True},
        {"temperature": "x"}, {"temperature": [1]}, {"temperature": {}}, {"temperature": None, "top_p": 0.5},
        {"top_p": "y"}, {"top_p": 2}, {"max_tokens": -1}, {"max_tokens": 0}, {"max_tokens": 1.5},
        {"max_tokens": "5"}, {"max_tokens": True}, {"max_tokens": None}, {"max_tokens": -1, "temperature": "x"},
        {"temperature": "x", "max_tokens": -1}, {"stop": "x"}, {"stop": ["a", "b"]}, {"stop": []}, {"stop": 1},
        {"stop": {}}, {"stop": ["a", 1]}, {"stop": [None]}, {"stop": None},
        {"temperature": 0.5, "max_tokens": 10, "top_p": 1, "stop": "s", "seed": 3},
    ],
    "messages": [
        [], "", "ab", None, 1, {}, {"role": "user"}, [None], [1], [1.5], [True], ["s"], [[]], [[1]],
        [{"content": "x"}], [{"role": 1}], [{"role": None}], [{"role": "bogus"}], [U, {"role": "bogus"}],
        [{"role": "user"}], [{"role": "user", "content": None}], [{"role": "user", "content": 1}],
        [{"role": "user", "content": "x", "name": 1}], [{"role": "user", "content": []}],
        [{"role": "system", "content": [{"type": "text", "text": "x"}]}],
        [{"role": "user", "content": [{"type": "bogus"}]}], [{"role": "user", "content": [1]}],
        [{"role": "user", "content": [{"type": "text"}]}], [{"role": "user", "content": [{"type": "text", "text": 1}]}],
        [{"role": "user", "content": [{"type": "image_url"}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
        [{"role": "user", "content": [{"type": "image", "image": {}}]}],
        [{"role": "user", "content": [{"type": "refusal"}]}],
        [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}],
        [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "x"}]}],
        [{"role": "user", "content": [dict(type="provider_native", **NATIVE)]}],
        [{"role": "assistant"}], [{"role": "assistant", "content": 1}], [{"role": "assistant", "tool_calls": 1}],
        [{"role": "assistant", "tool_calls": [{}]}], [{"role": "assistant", "tool_calls": [{"id": "i"}]}],
        [{"role": "assistant", "tool_calls": [{"id": "i", "type": "function"}]}],
        [{"role": "assistant", "tool_calls": [{"id": "i", "type": "function", "function": {}}]}],
        [{"role": "assistant", "tool_calls": [{"id": "i", "type": "function", "function": {"name": "n"}}]}],
        [{"role": "assistant", "tool_calls": [CALL]}],
        [{"role": "tool", "content": "x"}], [{"role": "tool"}], [{"role": "tool", "tool_call_id": 1, "content": "x"}],
        [{"role": "tool", "content": None, "tool_call_id": "a"}], [{"role": "tool", "content": "x", "tool_call_id": "a"}],
        [{"role": "function", "content": "x"}], [{"role": "function", "name": "f"}],
        [{"role": "tool_call"}], [{"role": "tool_call", "call_id": 1}], [{"role": "tool_call", "call_id": "c"}],
        [{"role": "tool_call", "call_id": "c", "name": "n"}], [{"role": "tool_call", "call_id": "c", "name": "n", "arguments": None}],
        [{"role": "tool_result"}], [{"role": "tool_result", "call_id": "c"}],
        [{"role": "provider_native"}], [{"role": "provider_native", "provider": "p"}],
        [{"role": "provider_native", "provider": "p", "kind": "k"}], [dict(role="provider_native", **NATIVE)],
    ],
    "tools": [
        1, {}, "ab", [1], [None], [{}], [{"type": 1}], [{"type": "bogus"}], [{"type": "function"}],
        [{"type": "function", "function": 1}], [{"type": "function", "function": {}}], [FN],
        [{"type": "function", "function": {"name": 1}}], [{"type": "function", "function": {"name": "f", "description": 1}}],
        [{"type": "function", "function": {"name": "f", "strict": 1}}], [{"type": "provider_native"}],
        [{"type": "provider_native", "provider": "p"}], [dict(type="provider_native", **NATIVE)],
    ],
    "tool_choice": ["auto", "none", "required", "bogus", 1, 1.5, True, [1], {}, {"type": "function"}, FN,
                    {"type": "function", "function": {"name": 1}}, dict(type="provider_native", **NATIVE)],
    "instructions": ["x", [], [{"type": "text", "text": "a"}], [1], {}, True, 1],
    "api_specific": [1, "x", [], {}, {"api": 1}, {"api": "bogus"}, {"api": "openai_chat"}, {"api": "anthropic_messages"},
                     {"api": "openai_responses"}, {"api": "oci_genai"}, {"api": "gemini_generate_content"},
                     {"api": "custom", "api_name": 1}, {"api": "custom", "api_name": "x"}],
}

NEW: list[dict[str, Any]] = [
    {"messages": [U]},
    {"messages": None, "model": 1},
    {"messages": 1, "params": 1},
    {"messages": [], "params": 1, "tools": 1},
    {"messages": [], "instructions": 1, "tools": 1},
    {"messages": [], "tool_choice": 1, "api_specific": 1},
    {"messages": [], "extra": 1, "api_specific": 1},
    {"messages": [], "api_specific": {"api": "bogus"}},
    {"messages": [], "api_specific": {}},
    {"messages": [], "extra": 1},
    {"messages": [], "extra": None},
    {"messages": [], "params": {}},
    {"messages": [], "params": {"max_tokens": -1}},
    {"messages": [], "model": "m", "params": {"temperature": 1, "stop": "x"}, "tools": [FN], "tool_choice": "auto",
     "api_specific": {"api": "openai_chat"}, "instructions": "be brief", "extra": {"k": 1}},
]

KINDS = {"TypeError": "type_error", "ValueError": "value_error", "OverflowError": "overflow_error"}


def outcome(make: Any, names: list[str]) -> dict[str, Any]:
    try:
        a = make()
    except Exception as e:  # noqa: BLE001 - the class is what is recorded
        return {"error": {"type": type(e).__name__, "kind": KINDS[type(e).__name__], "message": str(e)}}
    return {"value": {n: getattr(a, n) for n in names}}


def main() -> None:
    cases = []
    for field, values in SET.items():
        for i, v in enumerate(values):

            def make(field: str = field, v: Any = v) -> AnnotatedLLMRequest:
                a = AnnotatedLLMRequest([])
                setattr(a, field, v)
                return a

            cases.append({"name": f"set_{field}_{i}", "mode": "set", "fields": {field: v}, **outcome(make, [field])})
    for i, kw in enumerate(NEW):
        names = [k for k in kw if kw[k] is not None or k == "extra"]
        messages = kw["messages"]
        rest = {k: v for k, v in kw.items() if k != "messages"}
        cases.append({"name": f"new_{i}", "mode": "new", "fields": kw,
                      **outcome(lambda: AnnotatedLLMRequest(messages, **rest), names)})
    json.dump({"source": "nemo-relay 0.10.4 (scripts/capture_annotated_check.py)", "cases": cases},
              sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
