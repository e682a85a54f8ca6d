#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures the golden vectors of the Gemini and OCI codecs from the reference, nemo-relay 0.10.4.

Run it with the reference's interpreter (``/tmp/nemo-relay-ref-venv/bin/python``)::

    /tmp/nemo-relay-ref-venv/bin/python scripts/capture_codec_vectors.py [gemini_generate_content|oci_genai ...]

The inputs below were written for this project, plus the request bodies that the providers' own SDKs
built (``Tests/vectors/sdk_requests.json``, from ``scripts/capture_sdk_requests.py``). Every ``expected``
is the reference's actual output; an encode case's ``annotated`` is the reference's decode of the input
with the case's edit applied. A case whose reference call raises is written with ``expected_error: true``
and the reference's message as ``reference_error``. The files are ``Tests/vectors/<codec>.json``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Callable

from annotated_wire import request_from_wire, request_wire, response_wire
from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import GeminiGenerateContentCodec, OCIGenAIChatCodec

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "Tests" / "vectors"

Edit = Callable[[dict[str, Any]], None]


def noop(a: dict[str, Any]) -> None:
    """An encode case's edit that leaves the annotation as decoded."""


def set_path(path: list[Any], value: Any) -> Edit:
    """An encode case's edit that sets the annotation's value at ``path``."""

    def edit(a: dict[str, Any]) -> None:
        t = a
        for k in path[:-1]:
            t = t[k]
        t[path[-1]] = value

    return edit


class Cases:
    """Collects cases for one codec, running each through the reference."""

    def __init__(self, codec_id: str, codec: Any) -> None:
        self.codec_id, self.codec, self.cases = codec_id, codec, []

    def _add(
        self, name: str, op: str, body: Any, run: Callable[[], Any], annotated: Any = None, note: str = ""
    ) -> None:
        case: dict[str, Any] = {"name": name, "codec": self.codec_id, "op": op, "input": copy.deepcopy(body)}
        if annotated is not None:
            case["annotated"] = annotated
        try:
            case["expected"] = run()
        except Exception as e:  # the reference's failure is the expectation
            case["expected_error"] = True
            case["reference_error"] = f"{type(e).__name__}: {e}"
        if note:
            case["note"] = note
        self.cases.append(case)

    def decode(self, name: str, body: Any, note: str = "") -> None:
        self._add(
            name,
            "decode",
            body,
            lambda: request_wire(self.codec.decode(LLMRequest({}, copy.deepcopy(body)))),
            note=note,
        )

    def encode(self, name: str, body: Any, edit: Edit, note: str = "") -> None:
        annotated = request_wire(self.codec.decode(LLMRequest({}, copy.deepcopy(body))))
        edit(annotated)
        self._add(
            name,
            "encode",
            body,
            lambda: self.codec.encode(
                request_from_wire(AnnotatedLLMRequest, annotated), LLMRequest({}, copy.deepcopy(body))
            ).content,
            annotated=annotated,
            note=note,
        )

    def encode_annotated(self, name: str, body: Any, annotated: Any, note: str = "") -> None:
        """An encode case with a hand-written annotation (for annotations the reference cannot decode)."""
        self._add(
            name,
            "encode",
            body,
            lambda: self.codec.encode(
                request_from_wire(AnnotatedLLMRequest, annotated), LLMRequest({}, copy.deepcopy(body))
            ).content,
            annotated=annotated,
            note=note,
        )

    def response(self, name: str, body: Any, note: str = "") -> None:
        self._add(
            name,
            "decode_response",
            body,
            lambda: response_wire(self.codec.decode_response(copy.deepcopy(body))),
            note=note,
        )


def sdk_requests(codec_id: str) -> list[dict[str, Any]]:
    path = VECTORS / "sdk_requests.json"
    if not path.exists():
        return []
    return [r for r in json.loads(path.read_text())["requests"] if r["codec"] == codec_id]


# ---- Gemini generateContent --------------------------------------------------------------------


def gemini_cases() -> Cases:
    c = Cases("gemini_generate_content", GeminiGenerateContentCodec())
    u = lambda *parts: {"role": "user", "parts": list(parts)}  # noqa: E731
    m = lambda *parts: {"role": "model", "parts": list(parts)}  # noqa: E731
    full = {
        "model": "gemini-2.5-flash",
        "systemInstruction": {"role": "system", "parts": [{"text": "You are a terse weather bot."}]},
        "contents": [
            u({"text": "Weather in Paris?"}),
            m(
                {"text": "Let me check.", "thought": True, "thoughtSignature": "c2lnLTE="},
                {"text": "Checking."},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
                    "thoughtSignature": "c2lnLTI=",
                },
            ),
            u({"functionResponse": {"name": "get_weather", "response": {"temp": 18, "sky": "cloudy"}}}),
            m({"text": "18 °C and cloudy."}),
            u({"text": "And tomorrow?"}),
        ],
        "generationConfig": {
            "temperature": 0.4,
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 512,
            "stopSequences": ["END"],
            "candidateCount": 1,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"temp": {"type": "NUMBER"}}},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Current weather",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                            "required": ["city"],
                        },
                    },
                    {"name": "get_time", "parametersJsonSchema": {"type": "object"}, "behavior": "NON_BLOCKING"},
                ]
            },
            {"googleSearch": {}},
            {"codeExecution": {}},
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "cachedContent": "cachedContents/abc123",
        "labels": {"team": "relay"},
    }

    # decode
    c.decode("decode_minimal_text", {"contents": [u({"text": "Hello"})]})
    c.decode("decode_full_request", full)
    c.decode("decode_role_defaults_to_user", {"contents": [{"parts": [{"text": "no role"}]}]})
    c.decode("decode_multiple_text_parts_joined", {"contents": [u({"text": "a"}, {"text": "b"})]})
    c.decode(
        "decode_system_instruction_parts_joined",
        {"systemInstruction": {"parts": [{"text": "one"}, {"text": "two"}]}, "contents": [u({"text": "x"})]},
    )
    c.decode(
        "decode_empty_system_instruction_dropped",
        {"systemInstruction": {"parts": [{"text": ""}]}, "contents": [u({"text": "x"})]},
    )
    c.decode(
        "decode_inline_and_file_data_native",
        {
            "contents": [
                u(
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/doc.pdf"}},
                    {"text": "Describe both."},
                )
            ]
        },
    )
    c.decode(
        "decode_code_execution_parts",
        {
            "contents": [
                u({"text": "Sum 1..10"}),
                m(
                    {"executableCode": {"language": "PYTHON", "code": "print(sum(range(11)))"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "55\n"}},
                    {"text": "55"},
                ),
            ]
        },
    )
    c.decode(
        "decode_thought_parts_hidden",
        {
            "contents": [
                u({"text": "q"}),
                m({"text": "reasoning...", "thought": True}, {"text": "answer", "thoughtSignature": "c2ln"}),
            ]
        },
    )
    c.decode("decode_only_thought_is_empty_text", {"contents": [m({"text": "hidden", "thought": True})]})
    c.decode(
        "decode_parallel_function_calls_and_responses",
        {
            "contents": [
                u({"text": "Paris and Rome?"}),
                m(
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call-1"}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "call-2"}},
                ),
                u(
                    {"functionResponse": {"name": "get_weather", "id": "call-1", "response": {"temp": 18}}},
                    {"functionResponse": {"name": "get_weather", "id": "call-2", "response": {"temp": 24}}},
                ),
            ]
        },
    )
    c.decode("decode_function_call_without_args", {"contents": [m({"functionCall": {"name": "ping"}})]})
    c.decode(
        "decode_function_response_nested_parts",
        {
            "contents": [
                u(
                    {
                        "functionResponse": {
                            "name": "render",
                            "response": {"ok": True},
                            "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
                        }
                    }
                )
            ]
        },
    )
    c.decode(
        "decode_stringified_args_sorted_and_numbers",
        {"contents": [m({"functionCall": {"name": "f", "args": {"z": 1, "a": [1.25, 2.5e-3, 1e-7, 1.5e300, "é"]}}})]},
        note="arguments are compact JSON with sorted keys and the reference's number spelling (no integral "
        "doubles here: JavaScript cannot tell 1.0 from 1)",
    )
    c.decode("decode_unknown_part_native", {"contents": [u({"videoMetadata": {"startOffset": "1s"}})]})
    c.decode(
        "decode_tools_groups",
        {
            "contents": [u({"text": "x"})],
            "tools": [
                {"functionDeclarations": [{"name": "a", "description": "A"}], "codeExecution": {}},
                {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC"}}},
                {"urlContext": {}},
            ],
        },
    )
    c.decode(
        "decode_snake_case_keys_are_extra",
        {
            "contents": [u({"text": "x"})],
            "system_instruction": {"parts": [{"text": "s"}]},
            "generation_config": {"max_output_tokens": 5},
            "tool_config": {"function_calling_config": {"mode": "ANY"}},
        },
        note="0.10.4 reads only the camelCase spelling; snake_case keys stay extra and round-trip",
    )
    c.decode("decode_empty_contents", {"contents": []})
    c.decode("decode_non_ascii_text", {"contents": [u({"text": "こんにちは 🌍 — ñ"})]})

    # decode errors
    c.decode("decode_error_missing_contents", {"model": "gemini-2.5-flash"})
    c.decode("decode_error_contents_not_array", {"contents": "hello"})
    c.decode("decode_error_system_role_in_contents", {"contents": [{"role": "system", "parts": [{"text": "x"}]}]})
    c.decode("decode_error_part_with_two_data_fields", {"contents": [u({"text": "a", "inlineData": {}})]})
    c.decode("decode_error_missing_parts", {"contents": [{"role": "user"}]})
    c.decode("decode_error_function_call_in_user_turn", {"contents": [u({"functionCall": {"name": "f"}})]})
    c.decode(
        "decode_error_function_response_mixed_with_text",
        {"contents": [u({"functionResponse": {"name": "f", "response": {}}}, {"text": "x"})]},
    )
    c.decode(
        "decode_error_function_response_not_object",
        {"contents": [u({"functionResponse": {"name": "f", "response": "ok"}})]},
    )
    c.decode("decode_error_max_output_tokens_negative", {"contents": [], "generationConfig": {"maxOutputTokens": -1}})
    c.decode("decode_error_stop_sequences_not_strings", {"contents": [], "generationConfig": {"stopSequences": [1]}})
    c.decode("decode_error_system_instruction_string", {"systemInstruction": "plain", "contents": []})
    c.decode("decode_error_declaration_without_name", {"contents": [], "tools": [{"functionDeclarations": [{}]}]})
    c.decode("decode_error_empty_function_call_id", {"contents": [m({"functionCall": {"name": "f", "id": ""}})]})

    # encode
    c.encode("encode_unchanged_is_identity", full, noop)
    c.encode("encode_edit_system_message", full, set_path(["messages", 0, "content"], "You are verbose."))
    c.encode("encode_edit_last_user_text", full, set_path(["messages", 5, "content"], "And on Sunday?"))
    c.encode(
        "encode_edit_assistant_text_keeps_thought_and_signature",
        full,
        set_path(["messages", 2, "content"], "Looking it up."),
    )
    c.encode(
        "encode_edit_tool_call_arguments_keeps_signature",
        full,
        set_path(["messages", 2, "tool_calls", 0, "function", "arguments"], '{"city":"Lyon","unit":"c"}'),
    )
    c.encode("encode_edit_tool_result", full, set_path(["messages", 3, "content"], '{"temp":19,"sky":"sunny"}'))
    c.encode("encode_append_user_message", full, lambda a: a["messages"].append({"role": "user", "content": "Thanks!"}))
    c.encode(
        "encode_append_tool_call_and_result",
        {"contents": [u({"text": "Time in Tokyo?"})]},
        lambda a: a["messages"].extend(
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"tz":"Asia/Tokyo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "09:30"},
            ]
        ),
    )
    c.encode("encode_delete_middle_turns", full, lambda a: a["messages"].__delitem__(slice(2, 5)))
    c.encode("encode_remove_system_message", full, lambda a: a["messages"].pop(0))
    c.encode(
        "encode_params_changed",
        full,
        lambda a: a["params"].update({"temperature": 0.0, "max_tokens": 64, "top_p": None, "stop": ["STOP", "HALT"]}),
    )
    c.encode(
        "encode_params_removed",
        {"contents": [u({"text": "x"})], "generationConfig": {"temperature": 0.5}},
        lambda a: a.pop("params"),
    )
    c.encode(
        "encode_params_added_without_config",
        {"contents": [u({"text": "x"})]},
        set_path(["params"], {"max_tokens": 5, "temperature": 1}),
    )
    single_group = {
        "contents": [u({"text": "x"})],
        "tools": [
            {"googleSearch": {}},
            {
                "functionDeclarations": [{"name": "f", "description": "F", "behavior": "BLOCKING"}, {"name": "g"}],
                "codeExecution": {},
            },
        ],
    }
    c.encode("encode_tool_description_changed", single_group, set_path(["tools", 1, "function", "description"], "F2"))
    c.encode("encode_tool_removed", single_group, lambda a: a["tools"].pop(2))
    c.encode(
        "encode_tool_added",
        single_group,
        lambda a: a["tools"].append({"type": "function", "function": {"name": "h", "parameters": {"type": "object"}}}),
    )
    c.encode("encode_tools_removed", single_group, lambda a: a.pop("tools"))
    c.encode(
        "encode_native_tool_added",
        {"contents": [u({"text": "x"})]},
        set_path(
            ["tools"],
            [{"type": "provider_native", "provider": "gemini", "kind": "urlContext", "value": {"urlContext": {}}}],
        ),
    )
    c.encode("encode_model_changed", full, set_path(["model"], "gemini-2.5-pro"))
    c.encode(
        "encode_extra_changed_and_removed",
        full,
        lambda a: (a.pop("labels"), a.update({"cachedContent": "cachedContents/other", "safetySettings": []})),
    )
    c.encode(
        "encode_user_parts_content",
        {"contents": [u({"text": "x"})]},
        set_path(
            ["messages", 0, "content"],
            [
                {"type": "text", "text": "Look:"},
                {
                    "type": "provider_native",
                    "provider": "gemini",
                    "kind": "inlineData",
                    "value": {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                },
            ],
        ),
    )
    parallel = {
        "contents": [
            u({"text": "Paris and Rome?"}),
            m(
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "c-1"}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ),
            u(
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "id": "c-1",
                        "response": {"temp": 18},
                        "willContinue": False,
                    }
                },
                {"functionResponse": {"name": "get_weather", "response": {"temp": 24}}},
            ),
        ]
    }
    c.encode("encode_edit_one_of_parallel_responses", parallel, set_path(["messages", 3, "content"], '{"temp": 25}'))
    c.encode("encode_drop_one_of_parallel_responses", parallel, lambda a: a["messages"].pop(2))
    c.encode(
        "encode_edit_second_parallel_call",
        parallel,
        set_path(["messages", 1, "tool_calls", 1, "function", "arguments"], '{"city":"Milan"}'),
    )
    c.encode(
        "encode_role_changed_on_patch",
        {"contents": [u({"text": "q"}), m({"text": "a", "thoughtSignature": "c2ln"})]},
        set_path(["messages", 1, "role"], "user"),
    )
    c.encode("encode_tools_emptied", single_group, set_path(["tools"], []))
    c.encode(
        "encode_tools_reordered_keep_group_order",
        {
            "contents": [u({"text": "x"})],
            "tools": [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}, {"codeExecution": {}}],
        },
        lambda a: a["tools"].reverse(),
    )
    c.encode("encode_error_instructions_set", full, set_path(["instructions"], "x"))
    c.encode("encode_error_tool_choice_set", full, set_path(["tool_choice"], "required"))
    c.encode(
        "encode_error_image_url_part",
        {"contents": [u({"text": "x"})]},
        lambda a: a["messages"].append(
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
        ),
    )
    c.encode(
        "encode_error_strict_tool",
        {"contents": [u({"text": "x"})]},
        set_path(["tools"], [{"type": "function", "function": {"name": "n", "strict": True}}]),
    )
    c.encode(
        "encode_error_multiple_declaration_groups",
        {
            "contents": [u({"text": "x"})],
            "tools": [{"functionDeclarations": [{"name": "a"}]}, {"functionDeclarations": [{"name": "b"}]}],
        },
        lambda a: a["tools"].pop(),
    )
    c.encode(
        "encode_error_bad_arguments",
        {"contents": [u({"text": "x"})]},
        lambda a: a["messages"].append(
            {
                "role": "assistant",
                "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "not json"}}],
            }
        ),
    )

    # decode_response
    c.response(
        "response_text_stop_with_usage",
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Hello"}, {"text": "World"}]},
                    "finishReason": "STOP",
                    "index": 0,
                    "avgLogprobs": -0.12,
                    "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 10,
                "candidatesTokenCount": 5,
                "totalTokenCount": 20,
                "thoughtsTokenCount": 5,
                "cachedContentTokenCount": 4,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
            },
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1",
            "createTime": "2025-06-01T00:00:00Z",
        },
    )
    c.response(
        "response_function_calls_tool_use",
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "thinking", "thought": True},
                            {
                                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                "thoughtSignature": "c2ln",
                            },
                            {"functionCall": {"name": "get_time", "id": "c2"}},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "modelVersion": "gemini-2.0-flash",
        },
    )
    c.response(
        "response_max_tokens", {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]}
    )
    c.response("response_safety_without_content", {"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]})
    c.response(
        "response_call_without_reason", {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"}}]}}]}
    )
    c.response(
        "response_unknown_reason",
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MALFORMED_FUNCTION_CALL"}]},
    )
    c.response(
        "response_unspecified_reason",
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "FINISH_REASON_UNSPECIFIED"}]},
    )
    c.response(
        "response_prompt_blocked",
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}},
    )
    c.response("response_prompt_blocked_other", {"promptFeedback": {"blockReason": "OTHER"}})
    c.response("response_empty_candidates", {"candidates": []})
    c.response(
        "response_first_candidate_only",
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"},
                {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS"},
            ]
        },
    )
    c.response(
        "response_native_parts",
        {
            "candidates": [
                {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, {"text": "caption"}]}}
            ]
        },
    )
    c.response(
        "response_grounding_and_citations",
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "x"}]},
                    "finishReason": "STOP",
                    "groundingMetadata": {"webSearchQueries": ["q"]},
                    "citationMetadata": {"citations": []},
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
            "modelVersion": "gemini-1.5-pro",
        },
    )
    c.response(
        "response_total_from_parts",
        {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 2}},
    )
    c.response(
        "response_stream_chunk_text",
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
            "modelVersion": "gemini-2.5-flash",
            "responseId": "r-stream",
        },
        note="one streamGenerateContent chunk decodes like a response",
    )
    c.response(
        "response_stream_chunk_final",
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "r-stream",
        },
    )
    c.response(
        "response_empty_usage_metadata", {"candidates": [{"content": {"parts": [{"text": "x"}]}}], "usageMetadata": {}}
    )
    c.response(
        "response_null_safety_ratings_kept",
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "safetyRatings": None, "index": 0}]},
    )
    c.response(
        "response_error_second_candidate_not_object",
        {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}, None]},
    )
    c.response("response_error_not_object", [])
    c.response("response_error_candidates_not_array", {"candidates": {}})
    c.response(
        "response_error_function_response_part",
        {"candidates": [{"content": {"parts": [{"functionResponse": {"name": "f", "response": {}}}]}}]},
    )
    c.response(
        "response_error_args_not_object",
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": [1]}}]}}]},
    )
    c.response("response_error_negative_count", {"usageMetadata": {"promptTokenCount": -1}})
    c.response("response_error_text_not_string", {"candidates": [{"content": {"parts": [{"text": 5}]}}]})
    c.response("response_error_prompt_feedback_not_object", {"promptFeedback": 5})

    for r in sdk_requests("gemini_generate_content"):
        c.decode(f"sdk_{r['name']}", r["body"], note=f"built by {r['sdk']}")
    return c


# ---- OCI Generative AI chat ----------------------------------------------------------------------


def oci_cases() -> Cases:
    c = Cases("oci_genai", OCIGenAIChatCodec())

    def text(t: str, **extra: Any) -> list[dict[str, Any]]:
        return [dict({"type": "TEXT", "text": t}, **extra)]

    def envelope(chat: dict[str, Any], serving: Any = None) -> dict[str, Any]:
        return {
            "compartmentId": "ocid1.compartment.oc1..aaaa",
            "servingMode": serving or {"servingType": "ON_DEMAND", "modelId": "meta.llama-3.3-70b-instruct"},
            "chatRequest": chat,
        }

    generic = envelope(
        {
            "apiFormat": "GENERIC",
            "messages": [
                {"role": "SYSTEM", "content": text("You are a terse weather bot.")},
                {"role": "USER", "content": text("Weather in Paris?")},
                {
                    "role": "ASSISTANT",
                    "content": [],
                    "toolCalls": [
                        {"id": "call-1", "type": "FUNCTION", "name": "get_weather", "arguments": '{"city": "Paris"}'}
                    ],
                },
                {"role": "TOOL", "toolCallId": "call-1", "content": text('{"temp_c": 18}')},
                {"role": "ASSISTANT", "content": text("18 °C, cloudy.")},
                {"role": "USER", "content": text("And tomorrow?", cacheControl={"type": "ephemeral"})},
            ],
            "maxTokens": 600,
            "temperature": 0.2,
            "topP": 0.9,
            "topK": -1,
            "stop": ["###"],
            "frequencyPenalty": 0.0,
            "presencePenalty": 0.0,
            "isStream": False,
            "numGenerations": 1,
            "seed": 42,
            "tools": [
                {
                    "type": "FUNCTION",
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ],
            "toolChoice": {"type": "AUTO"},
        }
    )
    cohere = envelope(
        {
            "apiFormat": "COHERE",
            "preambleOverride": "You are terse.",
            "chatHistory": [
                {"role": "USER", "message": "Weather in Paris?"},
                {"role": "CHATBOT", "message": "18 °C and cloudy."},
            ],
            "message": "And tomorrow?",
            "maxTokens": 128,
            "temperature": 0.5,
            "topP": 0.75,
            "topK": 0,
            "stopSequences": ["END"],
            "documents": [{"title": "forecast", "snippet": "rain"}],
            "isStream": False,
        },
        {"servingType": "ON_DEMAND", "modelId": "cohere.command-r-plus-08-2024"},
    )

    # decode
    c.decode("decode_generic_full", generic)
    c.decode("decode_cohere_full", cohere)
    c.decode(
        "decode_bare_chat_request", {"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": text("hi")}]}
    )
    c.decode(
        "decode_dedicated_endpoint_model",
        envelope(
            {"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": text("hi")}]},
            {"servingType": "DEDICATED", "endpointId": "ocid1.generativeaiendpoint.oc1..e"},
        ),
    )
    c.decode(
        "decode_text_parts_concatenated",
        envelope(
            {
                "apiFormat": "GENERIC",
                "messages": [
                    {"role": "USER", "content": [{"type": "TEXT", "text": "a"}, {"type": "TEXT", "text": "b"}]}
                ],
            }
        ),
    )
    c.decode(
        "decode_image_part_native",
        envelope(
            {
                "apiFormat": "GENERIC",
                "messages": [
                    {
                        "role": "USER",
                        "content": [
                            {"type": "TEXT", "text": "What is this?"},
                            {
                                "type": "IMAGE",
                                "imageUrl": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "HIGH"},
                            },
                        ],
                    }
                ],
            }
        ),
    )
    c.decode(
        "decode_string_content_and_default_role",
        envelope({"apiFormat": "GENERIC", "messages": [{"content": "plain string"}]}),
    )
    c.decode(
        "decode_empty_user_content_native",
        envelope({"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": []}]}),
    )
    c.decode(
        "decode_tool_without_call_id_native",
        envelope({"apiFormat": "GENERIC", "messages": [{"role": "TOOL", "content": text("r")}]}),
    )
    c.decode(
        "decode_unknown_role_native",
        envelope({"apiFormat": "GENERIC", "messages": [{"role": "DEVELOPER", "content": text("x")}]}),
    )
    c.decode(
        "decode_tool_call_object_arguments_and_missing_id",
        envelope(
            {
                "apiFormat": "GENERIC",
                "messages": [
                    {
                        "role": "ASSISTANT",
                        "toolCalls": [
                            {"type": "FUNCTION", "name": "f", "arguments": {"b": 2, "a": 1}},
                            {"type": "FUNCTION", "name": "g"},
                        ],
                    }
                ],
            }
        ),
    )
    c.decode(
        "decode_cohere_native_turns_and_lowercase",
        {
            "chatRequest": {
                "apiFormat": "cohere",
                "message": "now",
                "chatHistory": [
                    {"role": "TOOL", "toolResults": [{"call": {"name": "f", "parameters": {}}, "outputs": []}]},
                    {"role": "user", "message": "before"},
                    {"role": "SYSTEM", "message": "sys"},
                ],
                "preambleOverride": "",
                "stop": ["ignored"],
            }
        },
    )
    c.decode(
        "decode_coherev2_messages",
        envelope(
            {
                "apiFormat": "COHEREV2",
                "messages": [{"role": "USER", "content": text("hi")}],
                "stopSequences": ["a"],
                "citationOptions": {"mode": "FAST"},
            }
        ),
    )
    c.decode("decode_missing_chat_request_fields", {"compartmentId": "c", "chatRequest": {}})
    c.decode(
        "decode_non_string_compartment",
        {"compartmentId": 5, "servingMode": {"modelId": 7}, "chatRequest": {"messages": []}},
    )
    c.decode(
        "decode_null_serving_mode",
        {
            "compartmentId": "c",
            "servingMode": None,
            "chatRequest": {"messages": [{"role": "USER", "content": text("hi")}]},
        },
    )
    c.decode(
        "decode_non_ascii",
        envelope({"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": text("日本語 🎉 — ñ")}]}),
    )

    # decode errors
    c.decode("decode_error_messages_not_array", envelope({"apiFormat": "GENERIC", "messages": "x"}))
    c.decode("decode_error_message_not_object", envelope({"apiFormat": "GENERIC", "messages": [5]}))
    c.decode(
        "decode_error_tool_calls_not_array",
        envelope({"apiFormat": "GENERIC", "messages": [{"role": "ASSISTANT", "toolCalls": {}}]}),
    )
    c.decode("decode_error_stop_string", envelope({"apiFormat": "GENERIC", "messages": [], "stop": "x"}))
    c.decode(
        "decode_error_temperature_string", envelope({"apiFormat": "GENERIC", "messages": [], "temperature": "hot"})
    )
    c.decode("decode_error_max_tokens_negative", envelope({"apiFormat": "GENERIC", "messages": [], "maxTokens": -1}))
    c.decode("decode_error_tools_not_array", envelope({"apiFormat": "GENERIC", "messages": [], "tools": {}}))
    c.decode("decode_error_chat_history_not_array", {"chatRequest": {"apiFormat": "COHERE", "chatHistory": {}}})
    c.decode(
        "decode_error_content_number", envelope({"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": 5}]})
    )

    # encode
    c.encode("encode_generic_unchanged_is_identity", generic, noop)
    c.encode("encode_cohere_unchanged_is_identity", cohere, noop)
    c.encode("encode_generic_edit_last_user", generic, set_path(["messages", 5, "content"], "And on Sunday?"))
    c.encode("encode_generic_edit_tool_result", generic, set_path(["messages", 3, "content"], '{"temp_c": 20}'))
    c.encode(
        "encode_generic_append_messages",
        generic,
        lambda a: a["messages"].extend(
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call-2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call-2", "content": "sunny"},
            ]
        ),
    )
    c.encode("encode_generic_drop_first_message", generic, lambda a: a["messages"].pop(0))
    c.encode(
        "encode_generic_params_changed",
        generic,
        lambda a: a["params"].update({"temperature": 0.0, "max_tokens": 50, "top_p": 0.5, "stop": ["STOP"]}),
    )
    c.encode("encode_generic_params_removed_keep_raw", generic, lambda a: a.pop("params"))
    c.encode(
        "encode_generic_tools_replaced_with_function",
        generic,
        set_path(
            ["tools"],
            [
                {
                    "type": "function",
                    "function": {"name": "get_time", "description": "Time", "parameters": {"type": "object"}},
                }
            ],
        ),
    )
    c.encode("encode_generic_tools_removed", generic, lambda a: a.pop("tools"))
    c.encode("encode_generic_tool_choice_removed", generic, lambda a: a.pop("tool_choice"))
    c.encode(
        "encode_generic_extra_changed",
        generic,
        lambda a: (a.update({"seed": 7, "isStream": True}), a.pop("numGenerations")),
    )
    c.encode(
        "encode_compartment_and_serving_mode",
        generic,
        lambda a: a["api_specific"].update(
            {
                "compartment_id": "ocid1.compartment.oc1..bbbb",
                "serving_mode": {"servingType": "ON_DEMAND", "modelId": "xai.grok-3"},
            }
        ),
    )
    c.encode("encode_api_specific_dropped_keeps_envelope", generic, lambda a: a.pop("api_specific"))
    c.encode("encode_cohere_edit_current_message", cohere, set_path(["messages", 3, "content"], "And on Sunday?"))
    c.encode(
        "encode_cohere_append_turn",
        cohere,
        lambda a: a["messages"].extend(
            [{"role": "assistant", "content": "Rain."}, {"role": "user", "content": "Thanks"}]
        ),
    )
    c.encode("encode_cohere_remove_preamble", cohere, lambda a: a["messages"].pop(0))
    c.encode("encode_cohere_params_changed", cohere, lambda a: a["params"].update({"stop": ["X"], "max_tokens": 5}))
    c.encode("encode_error_model_changed", generic, set_path(["model"], "other"))
    c.encode("encode_error_api_format_changed", generic, lambda a: a["api_specific"].update({"api_format": "COHERE"}))
    c.encode(
        "encode_error_cohere_last_not_user",
        cohere,
        lambda a: a["messages"].append({"role": "assistant", "content": "x"}),
    )
    c.encode(
        "encode_error_cohere_tool_message",
        cohere,
        lambda a: a["messages"].insert(1, {"role": "tool", "tool_call_id": "t", "content": "r"}),
    )
    c.encode(
        "encode_error_cohere_multimodal",
        cohere,
        set_path(
            ["messages", 3, "content"],
            [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
        ),
    )
    c.encode("encode_error_tool_choice_mode", generic, set_path(["tool_choice"], "required"))
    c.encode(
        "encode_error_serving_mode_without_envelope",
        {"apiFormat": "GENERIC", "messages": [{"role": "USER", "content": text("hi")}]},
        lambda a: a["api_specific"].update({"compartment_id": "c"}),
    )

    # decode_response
    c.response(
        "response_generic_text",
        {
            "modelId": "meta.llama-3.3-70b-instruct",
            "modelVersion": "1.0.0",
            "chatResponse": {
                "apiFormat": "GENERIC",
                "timeCreated": "2025-06-01T00:00:00Z",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "ASSISTANT", "content": text("Hello there.")},
                        "finishReason": "stop",
                        "logprobs": {"tokens": []},
                    }
                ],
                "usage": {
                    "promptTokens": 12,
                    "completionTokens": 3,
                    "totalTokens": 15,
                    "promptTokensDetails": {"cachedTokens": 4},
                },
            },
        },
    )
    c.response(
        "response_generic_tool_calls",
        {
            "modelId": "m",
            "chatResponse": {
                "apiFormat": "GENERIC",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "ASSISTANT",
                            "content": [],
                            "toolCalls": [
                                {
                                    "id": "c1",
                                    "type": "FUNCTION",
                                    "name": "get_weather",
                                    "arguments": '{"city":"Paris"}',
                                },
                                {"type": "FUNCTION", "name": "g", "arguments": "not json"},
                            ],
                        },
                        "finishReason": "tool_calls",
                    }
                ],
            },
        },
    )
    c.response(
        "response_cohere_text_and_calls",
        {
            "modelId": "cohere.command-r-plus",
            "chatResponse": {
                "apiFormat": "COHERE",
                "text": "Hi",
                "finishReason": "COMPLETE",
                "chatHistory": [],
                "toolCalls": [{"name": "f", "parameters": {"a": 1}}],
                "usage": {"promptTokens": 1, "completionTokens": 2},
            },
        },
    )
    c.response(
        "response_cohere_max_tokens",
        {"chatResponse": {"apiFormat": "COHERE", "text": "Hi", "finishReason": "MAX_TOKENS"}},
    )
    c.response("response_cohere_unknown_reason", {"chatResponse": {"apiFormat": "COHERE", "finishReason": "ERROR"}})
    c.response(
        "response_coherev2",
        {
            "chatResponse": {
                "apiFormat": "COHEREV2",
                "id": "r-1",
                "message": {
                    "role": "ASSISTANT",
                    "content": text("v2"),
                    "toolCalls": [{"id": "t", "type": "FUNCTION", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finishReason": "TOOL_CALL",
                "usage": {"totalTokens": 9},
            }
        },
    )
    c.response(
        "response_bare_chat_response",
        {"apiFormat": "GENERIC", "choices": [{"message": {"content": text("bare")}, "finishReason": "length"}]},
    )
    c.response(
        "response_stream_event_generic",
        {"index": 0, "message": {"role": "ASSISTANT", "content": text("chunk")}},
        note="a GENERIC stream event decodes as a bare chat response without choices",
    )
    c.response(
        "response_image_and_text_content_filter",
        {
            "chatResponse": {
                "apiFormat": "GENERIC",
                "choices": [
                    {
                        "message": {
                            "content": [{"type": "IMAGE", "imageUrl": {"url": "u"}}, {"type": "TEXT", "text": "t"}]
                        },
                        "finishReason": "content_filter",
                    }
                ],
            }
        },
    )
    c.response(
        "response_string_content_max_tokens",
        {
            "chatResponse": {
                "apiFormat": "GENERIC",
                "choices": [{"message": {"content": "str"}, "finishReason": "max_tokens"}],
            }
        },
    )
    c.response(
        "response_lenient_usage",
        {
            "chatResponse": {
                "apiFormat": "GENERIC",
                "choices": "x",
                "usage": {"promptTokens": -1, "completionTokens": "2"},
            }
        },
    )
    c.response("response_non_object_is_raw", [1, 2])
    c.response(
        "response_error_content_number",
        {"chatResponse": {"apiFormat": "GENERIC", "choices": [{"message": {"content": 5}}]}},
    )

    for r in sdk_requests("oci_genai"):
        c.decode(f"sdk_{r['name']}", r["body"], note=f"built by {r['sdk']}")
    return c


CAPTURES: dict[str, Callable[[], Cases]] = {"gemini_generate_content": gemini_cases, "oci_genai": oci_cases}


def main() -> None:
    for codec_id in sys.argv[1:] or list(CAPTURES):
        cases = CAPTURES[codec_id]().cases
        path = VECTORS / f"{codec_id}.json"
        path.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
        ops: dict[str, int] = {}
        for case in cases:
            ops[case["op"]] = ops.get(case["op"], 0) + 1
        errors = sum(1 for case in cases if case.get("expected_error"))
        print(f"{path.relative_to(REPO)}: {len(cases)} cases {ops}, {errors} expect an error")


if __name__ == "__main__":
    main()
