#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the Bedrock Converse codec vectors, ``Tests/vectors/bedrock_converse.json``.

The reference (nemo-relay 0.10.4) has no Bedrock codec, so these vectors are not captured from it: the
inputs below (and the boto3-built bodies of ``Tests/vectors/sdk_requests.json``) run through this
repository's own codec, and the outputs were reviewed against ``docs/codecs.md`` before they were
committed. They pin the documented mapping so that Swift, C, Python and Node keep agreeing on it; a
change to the mapping regenerates them (and must be reviewed again). Every encoded output and every
SDK body is also checked against botocore's Converse input shape by
``bindings/python/tests/test_bedrock_schema.py``.

    NEMO_RELAY_LIB_PATH=$(swift build --show-bin-path) PYTHONPATH=bindings/python \\
        python3 scripts/capture_bedrock_vectors.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import BedrockConverseCodec

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "Tests" / "vectors" / "bedrock_converse.json"
CODEC = BedrockConverseCodec()
Edit = Callable[[dict[str, Any]], None]
cases: list[dict[str, Any]] = []


def _add(name: str, op: str, body: Any, run: Callable[[], Any], annotated: Any = None, note: str = "") -> None:
    case: dict[str, Any] = {"name": name, "codec": "bedrock_converse", "op": op, "input": copy.deepcopy(body)}
    if annotated is not None:
        case["annotated"] = annotated
    try:
        case["expected"] = run()
    except RuntimeError as e:
        case["expected_error"] = True
        case["error"] = str(e)
    if note:
        case["note"] = note
    cases.append(case)


def decode(name: str, body: Any, note: str = "") -> None:
    _add(name, "decode", body, lambda: CODEC.decode(LLMRequest({}, copy.deepcopy(body)))._wire(), note=note)


def encode(name: str, body: Any, edit: Edit, note: str = "") -> None:
    annotated = CODEC.decode(LLMRequest({}, copy.deepcopy(body)))._wire()
    edit(annotated)
    _add(
        name,
        "encode",
        body,
        lambda: CODEC.encode(AnnotatedLLMRequest._from_wire(annotated), LLMRequest({}, copy.deepcopy(body))).content,
        annotated=annotated,
        note=note,
    )


def response(name: str, body: Any, note: str = "") -> None:
    _add(name, "decode_response", body, lambda: CODEC.decode_response(copy.deepcopy(body))._wire(), note=note)


def set_path(path: list[Any], value: Any) -> Edit:
    def edit(a: dict[str, Any]) -> None:
        t = a
        for k in path[:-1]:
            t = t[k]
        t[path[-1]] = value

    return edit


def text(t: str) -> dict[str, Any]:
    return {"text": t}


WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    }
}
FULL = {
    "modelId": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "system": [text("You are a terse weather bot."), {"cachePoint": {"type": "default"}}],
    "messages": [
        {"role": "user", "content": [text("Weather in Paris?")]},
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Need the tool.", "signature": "c2ln"}}},
                text("Checking."),
                {"toolUse": {"toolUseId": "tu-1", "name": "get_weather", "input": {"city": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tu-1", "content": [{"json": {"temp_c": 18}}], "status": "success"}}
            ],
        },
        {"role": "assistant", "content": [text("18 °C and cloudy.")]},
        {"role": "user", "content": [text("And tomorrow?"), {"cachePoint": {"type": "default"}}]},
    ],
    "inferenceConfig": {"maxTokens": 512, "temperature": 0.3, "topP": 0.9, "stopSequences": ["###"]},
    "toolConfig": {"tools": [WEATHER, {"cachePoint": {"type": "default"}}], "toolChoice": {"auto": {}}},
    "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    "additionalModelResponseFieldPaths": ["/stop_sequence"],
    "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"},
    "requestMetadata": {"team": "relay"},
    "performanceConfig": {"latency": "standard"},
}
PARALLEL = {
    "modelId": "amazon.nova-pro-v1:0",
    "messages": [
        {"role": "user", "content": [text("Paris and Rome?")]},
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "a", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "b", "name": "get_weather", "input": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "a", "content": [text("18 C")]}},
                {"toolResult": {"toolUseId": "b", "content": [text("boom")], "status": "error"}},
                text("Summarise."),
            ],
        },
    ],
}

# decode
decode("decode_minimal", {"messages": [{"role": "user", "content": [text("Hello")]}]})
decode("decode_full_request", FULL)
decode("decode_parallel_tool_results_and_text", PARALLEL)
decode("decode_multiple_text_blocks_as_parts", {"messages": [{"role": "user", "content": [text("a"), text("b")]}]})
decode(
    "decode_image_and_document",
    {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                    {
                        "document": {
                            "format": "pdf",
                            "name": "report",
                            "source": {"s3Location": {"uri": "s3://b/r.pdf"}},
                        }
                    },
                    text("Compare."),
                ],
            }
        ]
    },
)
decode(
    "decode_tool_result_parts",
    {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": "t",
                            "content": [text("see image"), {"image": {"format": "jpeg", "source": {"bytes": "/9j/"}}}],
                        }
                    }
                ],
            }
        ]
    },
)
decode(
    "decode_tool_choice_any_and_specific",
    {"messages": [], "toolConfig": {"tools": [WEATHER], "toolChoice": {"tool": {"name": "x"}}}},
)
decode("decode_tool_choice_any", {"messages": [], "toolConfig": {"tools": [WEATHER], "toolChoice": {"any": {}}}})
decode("decode_system_single_text_is_string", {"system": [text("Be brief.")], "messages": []})
decode(
    "decode_guard_content_and_unknown_role",
    {
        "messages": [
            {"role": "user", "content": [{"guardContent": {"text": {"text": "check me"}}}]},
            {"role": "developer", "content": [text("x")]},
        ]
    },
)
decode(
    "decode_unknown_top_level_is_extra", {"messages": [], "promptVariables": {"city": {"text": "Paris"}}, "x_custom": 1}
)
decode("decode_non_ascii", {"messages": [{"role": "user", "content": [text("¿Qué hora es en 東京? 🕐")]}]})
decode("decode_error_missing_messages", {"modelId": "m"})
decode("decode_error_messages_not_array", {"messages": {}})
decode("decode_error_content_not_array", {"messages": [{"role": "user", "content": "hi"}]})
decode("decode_error_message_without_role", {"messages": [{"content": [text("x")]}]})
decode(
    "decode_error_tool_use_in_user_turn",
    {"messages": [{"role": "user", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]}]},
)
decode("decode_error_stop_sequences_not_strings", {"messages": [], "inferenceConfig": {"stopSequences": [1]}})
decode("decode_error_max_tokens_negative", {"messages": [], "inferenceConfig": {"maxTokens": -5}})
decode(
    "decode_error_tool_result_without_id",
    {"messages": [{"role": "user", "content": [{"toolResult": {"content": [text("x")]}}]}]},
)

# encode
encode("encode_unchanged_is_identity", FULL, lambda a: None)
encode("encode_edit_last_user_keeps_cache_point", FULL, set_path(["messages", 4, "content", 0, "text"], "And Sunday?"))
encode(
    "encode_edit_assistant_text_keeps_reasoning_and_tool_use",
    FULL,
    set_path(["messages", 1, "content", 1, "text"], "Looking it up."),
)
encode(
    "encode_edit_tool_arguments",
    FULL,
    set_path(["messages", 1, "tool_calls", 0, "function", "arguments"], '{"city":"Lyon"}'),
)
encode("encode_edit_tool_result_keeps_status", FULL, set_path(["messages", 2, "content"], '{"temp_c": 19}'))
encode("encode_edit_one_of_parallel_results", PARALLEL, set_path(["messages", 3, "content"], "redacted"))
encode(
    "encode_append_tool_call_result_and_user",
    {"messages": [{"role": "user", "content": [text("Time?")]}]},
    lambda a: a["messages"].extend(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"UTC"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "12:00"},
            {"role": "user", "content": "Thanks"},
        ]
    ),
    note="fresh tool results and the user message after them become one user turn",
)
encode("encode_drop_first_turns_keeps_the_rest", FULL, lambda a: a["messages"].__delitem__(slice(0, 4)))
encode("encode_instructions_replaced", FULL, set_path(["instructions"], "Answer in French."))
encode("encode_instructions_removed", FULL, lambda a: a.pop("instructions"))
encode(
    "encode_params_changed",
    FULL,
    lambda a: a["params"].update({"temperature": 0.0, "max_tokens": 64, "top_p": None, "stop": ["STOP"]}),
)
encode(
    "encode_params_added",
    {"messages": [{"role": "user", "content": [text("x")]}]},
    set_path(["params"], {"max_tokens": 10}),
)
encode(
    "encode_tool_added_and_choice_required",
    FULL,
    lambda a: (
        a["tools"].append(
            {
                "type": "function",
                "function": {
                    "name": "get_time",
                    "description": "Time",
                    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
                },
            }
        ),
        a.update({"tool_choice": "required"}),
    ),
)
encode(
    "encode_tool_choice_function",
    FULL,
    set_path(["tool_choice"], {"type": "function", "function": {"name": "get_weather"}}),
)
encode("encode_tools_and_choice_removed", FULL, lambda a: (a.pop("tools"), a.pop("tool_choice")))
encode(
    "encode_model_and_api_specific",
    FULL,
    lambda a: (
        a.update({"model": "amazon.nova-lite-v1:0"}),
        a["api_specific"].pop("guardrail_config"),
        a["api_specific"].update({"request_metadata": {"t": "x"}}),
    ),
)
encode(
    "encode_user_image_from_data_url",
    {"messages": [{"role": "user", "content": [text("x")]}]},
    lambda a: a["messages"].append(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ),
)
encode("encode_error_tool_choice_none", FULL, set_path(["tool_choice"], "none"))
encode("encode_error_store_set", FULL, set_path(["store"], True))
encode(
    "encode_error_remote_image_url",
    {"messages": [{"role": "user", "content": [text("x")]}]},
    set_path(["messages", 0, "content"], [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]),
)
encode(
    "encode_error_system_message",
    {"messages": [{"role": "user", "content": [text("x")]}]},
    lambda a: a["messages"].insert(0, {"role": "system", "content": "s"}),
)
encode(
    "encode_error_foreign_native_part",
    {"messages": [{"role": "user", "content": [text("x")]}]},
    set_path(
        ["messages", 0, "content"],
        [{"type": "provider_native", "provider": "gemini", "kind": "inlineData", "value": {"inlineData": {}}}],
    ),
)

# decode_response
response(
    "response_text_end_turn",
    {
        "output": {"message": {"role": "assistant", "content": [text("Hello!"), text("Bye.")]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 12,
            "outputTokens": 4,
            "totalTokens": 40,
            "cacheReadInputTokens": 20,
            "cacheWriteInputTokens": 4,
        },
        "metrics": {"latencyMs": 321},
        "ResponseMetadata": {"RequestId": "r-1", "HTTPStatusCode": 200},
    },
)
response(
    "response_tool_use_with_reasoning",
    {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Use the tool.", "signature": "c2ln"}}},
                    {"toolUse": {"toolUseId": "tu-9", "name": "get_weather", "input": {"city": "Oslo"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 30, "outputTokens": 12},
        "metrics": {"latencyMs": 88},
    },
)
response(
    "response_max_tokens",
    {"output": {"message": {"role": "assistant", "content": [text("trunc")]}}, "stopReason": "max_tokens"},
)
response(
    "response_stop_sequence",
    {"output": {"message": {"role": "assistant", "content": [text("x")]}}, "stopReason": "stop_sequence"},
)
response(
    "response_guardrail_intervened",
    {
        "output": {"message": {"role": "assistant", "content": [text("Sorry.")]}},
        "stopReason": "guardrail_intervened",
        "trace": {"guardrail": {"modelOutput": []}},
    },
)
response(
    "response_context_window_exceeded",
    {"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "model_context_window_exceeded"},
)
response("response_unknown_reason", {"stopReason": "something_new"})
response(
    "response_additional_fields",
    {
        "output": {"message": {"role": "assistant", "content": [text("x")]}},
        "stopReason": "end_turn",
        "additionalModelResponseFields": {"stop_sequence": None},
        "performanceConfig": {"latency": "optimized"},
    },
)
response("response_error_not_object", [1])
response("response_error_negative_usage", {"usage": {"inputTokens": -1}})
response("response_error_content_not_array", {"output": {"message": {"role": "assistant", "content": "x"}}})
response(
    "response_error_tool_use_without_id",
    {"output": {"message": {"role": "assistant", "content": [{"toolUse": {"name": "f", "input": {}}}]}}},
)

sdk = json.loads((REPO / "Tests" / "vectors" / "sdk_requests.json").read_text())["requests"]
for r in sdk:
    if r["codec"] == "bedrock_converse":
        decode(f"sdk_{r['name']}", r["body"], note=f"built by {r['sdk']}")

OUT.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
ops: dict[str, int] = {}
for c in cases:
    ops[c["op"]] = ops.get(c["op"], 0) + 1
print(f"{OUT.relative_to(REPO)}: {len(cases)} cases {ops}, {sum(1 for c in cases if c.get('expected_error'))} errors")
