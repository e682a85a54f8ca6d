# SPDX-License-Identifier: Apache-2.0
"""The golden codec vectors (Tests/vectors/*.json) through the Python codec classes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_vectors

from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import (
    AnthropicMessagesCodec,
    BedrockConverseCodec,
    GeminiGenerateContentCodec,
    OCIGenAIChatCodec,
    OpenAIChatCodec,
    OpenAIResponsesCodec,
)

CODECS = {
    "openai_chat": OpenAIChatCodec,
    "openai_responses": OpenAIResponsesCodec,
    "anthropic_messages": AnthropicMessagesCodec,
    "gemini_generate_content": GeminiGenerateContentCodec,
    "oci_genai": OCIGenAIChatCodec,
    "bedrock_converse": BedrockConverseCodec,
}
CASES = [c for f in CODECS for c in load_vectors(f"{f}.json")]


def _run(case: dict[str, Any]) -> Any:
    codec = CODECS[case["codec"]]()
    if case["op"] == "decode":
        return codec.decode(LLMRequest({}, case["input"]))._wire()
    if case["op"] == "encode":
        annotated = AnnotatedLLMRequest._from_wire(case["annotated"])
        return codec.encode(annotated, LLMRequest({}, case["input"])).content
    return codec.decode_response(case["input"])._wire()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any]) -> None:
    if case.get("expected_error"):
        with pytest.raises(RuntimeError):
            _run(case)
        return
    assert _run(case) == case["expected"]


def test_vector_counts() -> None:
    assert len(CASES) == 65 + 46 + 47 + 96 + 67 + 58
