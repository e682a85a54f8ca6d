# SPDX-License-Identifier: Apache-2.0
"""Bedrock Converse bodies against botocore's own service model: every request the codec encodes (and
every body boto3 built, Tests/vectors/sdk_requests.json) passes botocore's parameter validator for the
``Converse`` operation, the check boto3 runs before it sends a request."""

from __future__ import annotations

import base64
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from conftest import load_vectors

from nemo_relay import AnnotatedLLMRequest, LLMRequest
from nemo_relay.codecs import BedrockConverseCodec

SHAPE = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse").input_shape
CASES = [c for c in load_vectors("bedrock_converse.json") if c["op"] == "encode" and not c.get("expected_error")]
SDK = [r for r in load_vectors("sdk_requests.json")["requests"] if r["codec"] == "bedrock_converse"]


def to_params(value: Any, shape: Any) -> Any:
    """The JSON body as boto3 parameters: base64 text back to bytes where the model has a blob."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: to_params(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_params(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_params(v, shape.value) for k, v in value.items()}
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def errors(body: dict[str, Any]) -> str:
    params = to_params(dict(body), SHAPE)
    params.setdefault("modelId", "anthropic.claude-3-5-sonnet-20240620-v1:0")  # a URI member, not in the body
    report = ParamValidator().validate(params, SHAPE)
    return report.generate_report() if report.has_errors() else ""


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_encoded_requests_validate(case: dict[str, Any]) -> None:
    out = (
        BedrockConverseCodec()
        .encode(AnnotatedLLMRequest._from_wire(case["annotated"]), LLMRequest({}, case["input"]))
        .content
    )
    assert out == case["expected"]
    assert errors(out) == ""


@pytest.mark.parametrize("request_", SDK, ids=[r["name"] for r in SDK])
def test_sdk_bodies_validate_and_round_trip(request_: dict[str, Any]) -> None:
    body = request_["body"]
    assert errors(body) == ""
    codec = BedrockConverseCodec()
    original = LLMRequest({}, body)
    assert codec.encode(codec.decode(original), original).content == body


def test_the_validator_rejects_a_bad_body() -> None:
    assert "toolUseId" in errors(
        {"messages": [{"role": "assistant", "content": [{"toolUse": {"name": "f", "input": {}}}]}]}
    )
    assert len(CASES) >= 15 and len(SDK) == 4
