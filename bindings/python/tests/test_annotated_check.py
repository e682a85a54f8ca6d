# SPDX-License-Identifier: Apache-2.0
"""AnnotatedLLMRequest's constructor and setters refuse what the reference refuses, with the same
exception class and message (Tests/vectors/annotated_check.json); the rules live in the core
(nemo_relay_annotated_request_check), and the built-in codec list comes from the core too."""

from __future__ import annotations

import ctypes
import json
from typing import Any

import pytest
from conftest import load_vectors

from nemo_relay import _ffi, codecs
from nemo_relay.codecs import AnnotatedLLMRequest

CASES = load_vectors("annotated_check.json")["cases"]

#: Getters whose value the binding returns as the reference normalizes it (messages, tools and
#: tool_choice are kept as given: the reference re-serializes them through its model).
NORMALIZED = {
    "model", "user", "previous_response_id", "service_tier", "store", "stream", "parallel_tool_calls",
    "max_output_tokens", "max_tool_calls", "top_logprobs", "metadata", "include", "reasoning", "truncation",
    "extra", "params", "instructions", "api_specific",
}  # fmt: skip
ERRORS = {"TypeError": TypeError, "ValueError": ValueError, "OverflowError": OverflowError}


def run(case: dict[str, Any]) -> AnnotatedLLMRequest:
    fields = dict(case["fields"])
    if case["mode"] == "new":
        return AnnotatedLLMRequest(fields.pop("messages"), **fields)
    a = AnnotatedLLMRequest([])
    ((name, value),) = fields.items()
    setattr(a, name, value)
    return a


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fields_are_checked_as_the_reference_checks_them(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(Exception) as info:
            run(case)
        assert type(info.value) is ERRORS[case["error"]["type"]]
        assert str(info.value) == case["error"]["message"]
        return
    a = run(case)
    for name, want in case["value"].items():
        if name not in NORMALIZED or (name == "params" and want == {}):
            continue  # an empty params object is left out of the annotation (docs/annotated-request.md)
        assert getattr(a, name) == want, name


def test_a_negative_max_output_tokens_is_refused() -> None:
    a = AnnotatedLLMRequest([])
    with pytest.raises(OverflowError, match="can't convert negative int to unsigned"):
        a.max_output_tokens = -1
    assert a.max_output_tokens is None
    a.max_output_tokens = True  # a bool is an int, as in the reference
    assert a.max_output_tokens == 1


def check(fields: Any, flags: int = 0) -> tuple[int, Any]:
    body = json.dumps(fields).encode()
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    status = _ffi.lib.nemo_relay_annotated_request_check(ctypes.byref(out), ctypes.byref(n), body, len(body), flags)
    return status, (json.loads(_ffi.take_string(out, n)) if status == _ffi.OK else None)


def test_the_check_export_answers_fields_or_an_error() -> None:
    assert check({"max_output_tokens": True, "params": {"stop": "x", "foo": 1}}) == (
        _ffi.OK,
        {"fields": {"max_output_tokens": 1, "params": {"stop": ["x"]}}},
    )
    assert check({"extra": None}, _ffi.ANNOTATED_CHECK_CONSTRUCT) == (_ffi.OK, {"fields": {"extra": {}}})
    assert check({"store": 1}) == (
        _ffi.OK,
        {"error": {"kind": "type_error", "message": "'int' object is not an instance of 'bool'"}},
    )
    assert check([1])[0] == _ffi.E_INVALID_ARGUMENT
    assert check({}, 8)[0] == _ffi.E_INVALID_ARGUMENT


def test_the_builtin_codec_list_comes_from_the_core() -> None:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    assert _ffi.lib.nemo_relay_codec_builtin_list(ctypes.byref(out), ctypes.byref(n)) == _ffi.OK
    listing = json.loads(_ffi.take_string(out, n))
    ids = [e["id"] for e in listing]
    assert ids[:3] == ["openai_chat", "openai_responses", "anthropic_messages"]
    assert {"id": "oci_genai", "aliases": ["oci_genai_chat"]} in listing
    for entry in listing:
        for name in [entry["id"], *entry["aliases"]]:
            codec = codecs._builtin_by_id(name)
            assert codec is not None and codec._id == entry["id"], name
    assert type(codecs._builtin_by_id("oci_genai_chat")) is codecs.OCIGenAIChatCodec
    assert codecs._builtin_by_id("nope") is None
