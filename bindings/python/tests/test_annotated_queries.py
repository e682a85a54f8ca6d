# SPDX-License-Identifier: Apache-2.0
"""AnnotatedLLMRequest's system_prompt / last_user_message / has_tool_calls against the reference's
answers (Tests/vectors/annotated_queries.json), and the C export they rely on."""

from __future__ import annotations

import ctypes
import json

import pytest
from conftest import load_vectors

from nemo_relay import _ffi
from nemo_relay.codecs import AnnotatedLLMRequest

CASES = load_vectors("annotated_queries.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_queries_match_the_reference(case) -> None:
    a = AnnotatedLLMRequest(**case["annotated"])
    got = {
        "system_prompt": a.system_prompt(),
        "last_user_message": a.last_user_message(),
        "has_tool_calls": a.has_tool_calls(),
    }
    assert got == case["expected"]


def test_queries_follow_edits() -> None:
    a = AnnotatedLLMRequest(messages=[{"role": "user", "content": "first"}])
    assert a.last_user_message() == "first"
    a.messages = a.messages + [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}]
    assert a.has_tool_calls()
    a.instructions = "now"
    assert a.system_prompt() == "now"


def _call(body: bytes) -> tuple[int, bytes]:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    status = _ffi.lib.nemo_relay_annotated_request_queries(ctypes.byref(out), ctypes.byref(n), body, len(body))
    return status, (_ffi.take_string(out, n) if status == _ffi.OK else _ffi.lib.nemo_relay_last_error_message())


def test_the_export_refuses_what_is_not_an_object() -> None:
    assert _call(b'{"messages": []}') == (_ffi.OK, b'{"system_prompt":null,"last_user_message":null,"has_tool_calls":false}')
    status, message = _call(b"[1]")
    assert status == _ffi.E_INVALID_ARGUMENT and b"must be a JSON object, got array" in message
    status, message = _call(b'{"messages": [')
    assert status == _ffi.E_INVALID_JSON
    status, message = _call(b'{"messages": "\xff"}')
    assert status == _ffi.E_INVALID_JSON
    assert json.loads(_call('{"instructions": "é"}'.encode())[1])["system_prompt"] == "é"
