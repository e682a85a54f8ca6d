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

from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import GeminiGenerateContentCodec, OCIGenAIChatCodec

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "Tests" / "vectors"

REQUEST_FIELDS = [
    "messages", "instructions", "model", "params", "tools", "tool_choice", "store", "parallel_tool_calls", "stream",
    "previous_response_id", "user", "service_tier", "truncation", "reasoning", "include", "metadata",
    "max_output_tokens", "max_tool_calls", "top_logprobs", "api_specific",
]
RESPONSE_FIELDS = ["id", "model", "message", "tool_calls", "finish_reason", "usage", "api_specific"]
KNOWN_FINISH = {"complete", "length", "tool_use", "content_filter"}


def request_wire(a: Any) -> dict[str, Any]:
    """The annotated request in the flat wire form: set fields, then the extras at the top level."""
    out = {f: getattr(a, f) for f in REQUEST_FIELDS if getattr(a, f) is not None}
    out.update(a.extra or {})
    return json.loads(json.dumps(out))


def response_wire(r: Any) -> dict[str, Any]:
    out = {f: getattr(r, f) for f in RESPONSE_FIELDS if getattr(r, f) is not None}
    fr = out.get("finish_reason")
    if isinstance(fr, str) and fr not in KNOWN_FINISH:
        out["finish_reason"] = {"unknown": fr}
    out.update(getattr(r, "extra", None) or {})
    return json.loads(json.dumps(out))


def request_from_wire(d: dict[str, Any]) -> Any:
    d = dict(d)
    a = AnnotatedLLMRequest(d.pop("messages"))
    for f in REQUEST_FIELDS[1:]:
        if f in d:
            setattr(a, f, d.pop(f))
    if d:
        a.extra = d
    return a


Edit = Callable[[dict[str, Any]], None]


class Cases:
    """Collects cases for one codec, running each through the reference."""

    def __init__(self, codec_id: str, codec: Any) -> None:
        self.codec_id, self.codec, self.cases = codec_id, codec, []

    def _add(self, name: str, op: str, body: Any, run: Callable[[], Any], annotated: Any = None, note: str = "") -> None:
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
        self._add(name, "decode", body, lambda: request_wire(self.codec.decode(LLMRequest({}, copy.deepcopy(body)))),
                  note=note)

    def encode(self, name: str, body: Any, edit: Edit, note: str = "") -> None:
        annotated = request_wire(self.codec.decode(LLMRequest({}, copy.deepcopy(body))))
        edit(annotated)
        self._add(
            name, "encode", body,
            lambda: self.codec.encode(request_from_wire(annotated), LLMRequest({}, copy.deepcopy(body))).content,
            annotated=annotated, note=note)

    def encode_annotated(self, name: str, body: Any, annotated: Any, note: str = "") -> None:
        """An encode case with a hand-written annotation (for annotations the reference cannot decode)."""
        self._add(
            name, "encode", body,
            lambda: self.codec.encode(request_from_wire(annotated), LLMRequest({}, copy.deepcopy(body))).content,
            annotated=annotated, note=note)

    def response(self, name: str, body: Any, note: str = "") -> None:
        self._add(name, "decode_response", body, lambda: response_wire(self.codec.decode_response(copy.deepcopy(body))),
                  note=note)


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
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
                 "thoughtSignature": "c2lnLTI="},
            ),
            u({"functionResponse": {"name": "get_weather", "response": {"temp": 18, "sky": "cloudy"}}}),
            m({"text": "18 °C and cloudy."}),
            u({"text": "And tomorrow?"}),
        ],
        "generationConfig": {
            "temperature": 0.4, "topP": 0.9, "topK": 40, "maxOutputTokens": 512, "stopSequences": ["END"],
            "candidateCount": 1, "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"temp": {"type": "NUMBER"}}},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
        "tools": [
            {"functionDeclarations": [
                {"name": "get_weather", "description": "Current weather",
                 "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
                {"name": "get_time", "parametersJsonSchema": {"type": "object"}, "behavior": "NON_BLOCKING"},
            ]},
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
    c.decode("decode_system_instruction_parts_joined",
             {"systemInstruction": {"parts": [{"text": "one"}, {"text": "two"}]}, "contents": [u({"text": "x"})]})
    c.decode("decode_empty_system_instruction_dropped",
             {"systemInstruction": {"parts": [{"text": ""}]}, "contents": [u({"text": "x"})]})
    c.decode("decode_inline_and_file_data_native", {"contents": [u(
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/doc.pdf"}},
        {"text": "Describe both."},
    )]})
    c.decode("decode_code_execution_parts", {"contents": [u({"text": "Sum 1..10"}), m(
        {"executableCode": {"language": "PYTHON", "code": "print(sum(range(11)))"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "55\n"}},
        {"text": "55"},
    )]})
    c.decode("decode_thought_parts_hidden", {"contents": [u({"text": "q"}), m(
        {"text": "reasoning...", "thought": True}, {"text": "answer", "thoughtSignature": "c2ln"})]})
    c.decode("decode_only_thought_is_empty_text", {"contents": [m({"text": "hidden", "thought": True})]})
    c.decode("decode_parallel_function_calls_and_responses", {"contents": [
        u({"text": "Paris and Rome?"}),
        m({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call-1"}},
          {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "call-2"}}),
        u({"functionResponse": {"name": "get_weather", "id": "call-1", "response": {"temp": 18}}},
          {"functionResponse": {"name": "get_weather", "id": "call-2", "response": {"temp": 24}}}),
    ]})
    c.decode("decode_function_call_without_args", {"contents": [m({"functionCall": {"name": "ping"}})]})
    c.decode("decode_function_response_nested_parts", {"contents": [u({"functionResponse": {
        "name": "render", "response": {"ok": True},
        "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}})]})
    c.decode("decode_stringified_args_sorted_and_numbers",
             {"contents": [m({"functionCall": {"name": "f", "args": {"z": 1, "a": [1.25, 2.5e-3, 1e-7, 1.5e300, "é"]}}})]},
             note="arguments are compact JSON with sorted keys and the reference's number spelling (no integral "
                  "doubles here: JavaScript cannot tell 1.0 from 1)")
    c.decode("decode_unknown_part_native", {"contents": [u({"videoMetadata": {"startOffset": "1s"}})]})
    c.decode("decode_tools_groups", {"contents": [u({"text": "x"})], "tools": [
        {"functionDeclarations": [{"name": "a", "description": "A"}], "codeExecution": {}},
        {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC"}}},
        {"urlContext": {}},
    ]})
    c.decode("decode_snake_case_keys_are_extra", {
        "contents": [u({"text": "x"})], "system_instruction": {"parts": [{"text": "s"}]},
        "generation_config": {"max_output_tokens": 5}, "tool_config": {"function_calling_config": {"mode": "ANY"}},
    }, note="0.10.4 reads only the camelCase spelling; snake_case keys stay extra and round-trip")
    c.decode("decode_empty_contents", {"contents": []})
    c.decode("decode_non_ascii_text", {"contents": [u({"text": "こんにちは 🌍 — ñ"})]})

    # decode errors
    c.decode("decode_error_missing_contents", {"model": "gemini-2.5-flash"})
    c.decode("decode_error_contents_not_array", {"contents": "hello"})
    c.decode("decode_error_system_role_in_contents", {"contents": [{"role": "system", "parts": [{"text": "x"}]}]})
    c.decode("decode_error_part_with_two_data_fields", {"contents": [u({"text": "a", "inlineData": {}})]})
    c.decode("decode_error_missing_parts", {"contents": [{"role": "user"}]})
    c.decode("decode_error_function_call_in_user_turn", {"contents": [u({"functionCall": {"name": "f"}})]})
    c.decode("decode_error_function_response_mixed_with_text",
             {"contents": [u({"functionResponse": {"name": "f", "response": {}}}, {"text": "x"})]})
    c.decode("decode_error_function_response_not_object",
             {"contents": [u({"functionResponse": {"name": "f", "response": "ok"}})]})
    c.decode("decode_error_max_output_tokens_negative",
             {"contents": [], "generationConfig": {"maxOutputTokens": -1}})
    c.decode("decode_error_stop_sequences_not_strings", {"contents": [], "generationConfig": {"stopSequences": [1]}})
    c.decode("decode_error_system_instruction_string", {"systemInstruction": "plain", "contents": []})
    c.decode("decode_error_declaration_without_name", {"contents": [], "tools": [{"functionDeclarations": [{}]}]})
    c.decode("decode_error_empty_function_call_id", {"contents": [m({"functionCall": {"name": "f", "id": ""}})]})

    # encode
    def noop(a: dict[str, Any]) -> None:
        pass

    def set_path(path: list[Any], value: Any) -> Edit:
        def edit(a: dict[str, Any]) -> None:
            t = a
            for k in path[:-1]:
                t = t[k]
            t[path[-1]] = value
        return edit

    c.encode("encode_unchanged_is_identity", full, noop)
    c.encode("encode_edit_system_message", full, set_path(["messages", 0, "content"], "You are verbose."))
    c.encode("encode_edit_last_user_text", full, set_path(["messages", 5, "content"], "And on Sunday?"))
    c.encode("encode_edit_assistant_text_keeps_thought_and_signature", full,
             set_path(["messages", 2, "content"], "Looking it up."))
    c.encode("encode_edit_tool_call_arguments_keeps_signature", full,
             set_path(["messages", 2, "tool_calls", 0, "function", "arguments"], '{"city":"Lyon","unit":"c"}'))
    c.encode("encode_edit_tool_result", full, set_path(["messages", 3, "content"], '{"temp":19,"sky":"sunny"}'))
    c.encode("encode_append_user_message", full,
             lambda a: a["messages"].append({"role": "user", "content": "Thanks!"}))
    c.encode("encode_append_tool_call_and_result", {"contents": [u({"text": "Time in Tokyo?"})]}, lambda a: a[
        "messages"].extend([
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"Asia/Tokyo"}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "09:30"},
        ]))
    c.encode("encode_delete_middle_turns", full, lambda a: a["messages"].__delitem__(slice(2, 5)))
    c.encode("encode_remove_system_message", full, lambda a: a["messages"].pop(0))
    c.encode("encode_params_changed", full, lambda a: a["params"].update(
        {"temperature": 0.0, "max_tokens": 64, "top_p": None, "stop": ["STOP", "HALT"]}))
    c.encode("encode_params_removed", {"contents": [u({"text": "x"})], "generationConfig": {"temperature": 0.5}},
             lambda a: a.pop("params"))
    c.encode("encode_params_added_without_config", {"contents": [u({"text": "x"})]},
             set_path(["params"], {"max_tokens": 5, "temperature": 1}))
    single_group = {"contents": [u({"text": "x"})], "tools": [
        {"googleSearch": {}},
        {"functionDeclarations": [{"name": "f", "description": "F", "behavior": "BLOCKING"}, {"name": "g"}],
         "codeExecution": {}},
    ]}
    c.encode("encode_tool_description_changed", single_group, set_path(["tools", 1, "function", "description"], "F2"))
    c.encode("encode_tool_removed", single_group, lambda a: a["tools"].pop(2))
    c.encode("encode_tool_added", single_group, lambda a: a["tools"].append(
        {"type": "function", "function": {"name": "h", "parameters": {"type": "object"}}}))
    c.encode("encode_tools_removed", single_group, lambda a: a.pop("tools"))
    c.encode("encode_native_tool_added", {"contents": [u({"text": "x"})]}, set_path(["tools"], [
        {"type": "provider_native", "provider": "gemini", "kind": "urlContext", "value": {"urlContext": {}}}]))
    c.encode("encode_model_changed", full, set_path(["model"], "gemini-2.5-pro"))
    c.encode("encode_extra_changed_and_removed", full, lambda a: (a.pop("labels"), a.update(
        {"cachedContent": "cachedContents/other", "safetySettings": []})))
    c.encode("encode_user_parts_content", {"contents": [u({"text": "x"})]}, set_path(["messages", 0, "content"], [
        {"type": "text", "text": "Look:"},
        {"type": "provider_native", "provider": "gemini", "kind": "inlineData",
         "value": {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}}},
    ]))
    c.encode("encode_error_instructions_set", full, set_path(["instructions"], "x"))
    c.encode("encode_error_tool_choice_set", full, set_path(["tool_choice"], "required"))
    c.encode("encode_error_image_url_part", {"contents": [u({"text": "x"})]}, lambda a: a["messages"].append(
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}))
    c.encode("encode_error_strict_tool", {"contents": [u({"text": "x"})]}, set_path(["tools"], [
        {"type": "function", "function": {"name": "n", "strict": True}}]))
    c.encode("encode_error_multiple_declaration_groups", {"contents": [u({"text": "x"})], "tools": [
        {"functionDeclarations": [{"name": "a"}]}, {"functionDeclarations": [{"name": "b"}]}]},
        lambda a: a["tools"].pop())
    c.encode("encode_error_bad_arguments", {"contents": [u({"text": "x"})]}, lambda a: a["messages"].append(
        {"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                                              "function": {"name": "f", "arguments": "not json"}}]}))

    # decode_response
    c.response("response_text_stop_with_usage", {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}, {"text": "World"}]},
                        "finishReason": "STOP", "index": 0, "avgLogprobs": -0.12,
                        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 20,
                          "thoughtsTokenCount": 5, "cachedContentTokenCount": 4,
                          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1", "createTime": "2025-06-01T00:00:00Z",
    })
    c.response("response_function_calls_tool_use", {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking", "thought": True},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "get_time", "id": "c2"}}]}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.0-flash"})
    c.response("response_max_tokens", {"candidates": [{"content": {"parts": [{"text": "x"}]},
                                                       "finishReason": "MAX_TOKENS"}]})
    c.response("response_safety_without_content", {"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]})
    c.response("response_call_without_reason", {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"}}]}}]})
    c.response("response_unknown_reason", {"candidates": [{"content": {"parts": [{"text": "x"}]},
                                                           "finishReason": "MALFORMED_FUNCTION_CALL"}]})
    c.response("response_unspecified_reason", {"candidates": [{"content": {"parts": [{"text": "x"}]},
                                                               "finishReason": "FINISH_REASON_UNSPECIFIED"}]})
    c.response("response_prompt_blocked", {"promptFeedback": {"blockReason": "SAFETY"},
                                           "usageMetadata": {"promptTokenCount": 3}})
    c.response("response_prompt_blocked_other", {"promptFeedback": {"blockReason": "OTHER"}})
    c.response("response_empty_candidates", {"candidates": []})
    c.response("response_first_candidate_only", {"candidates": [
        {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"},
        {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS"}]})
    c.response("response_native_parts", {"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, {"text": "caption"}]}}]})
    c.response("response_grounding_and_citations", {
        "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP",
                        "groundingMetadata": {"webSearchQueries": ["q"]}, "citationMetadata": {"citations": []},
                        "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
        "modelVersion": "gemini-1.5-pro"})
    c.response("response_total_from_parts", {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4,
                                                               "thoughtsTokenCount": 2}})
    c.response("response_stream_chunk_text", {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]},
                                                               "index": 0}], "modelVersion": "gemini-2.5-flash",
                                              "responseId": "r-stream"},
               note="one streamGenerateContent chunk decodes like a response")
    c.response("response_stream_chunk_final", {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash", "responseId": "r-stream"})
    c.response("response_error_not_object", [])
    c.response("response_error_candidates_not_array", {"candidates": {}})
    c.response("response_error_function_response_part", {"candidates": [{"content": {"parts": [
        {"functionResponse": {"name": "f", "response": {}}}]}}]})
    c.response("response_error_args_not_object", {"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "f", "args": [1]}}]}}]})
    c.response("response_error_negative_count", {"usageMetadata": {"promptTokenCount": -1}})
    c.response("response_error_text_not_string", {"candidates": [{"content": {"parts": [{"text": 5}]}}]})
    c.response("response_error_prompt_feedback_not_object", {"promptFeedback": 5})

    for r in sdk_requests("gemini_generate_content"):
        c.decode(f"sdk_{r['name']}", r["body"], note=f"built by {r['sdk']}")
    return c


CAPTURES: dict[str, Callable[[], Cases]] = {"gemini_generate_content": gemini_cases}


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
