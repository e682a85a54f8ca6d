#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Records request bodies built by the providers' own SDKs, without network, as codec vector inputs.

Run it in a scratch virtual environment holding the SDKs (not the project's test environment)::

    python3 -m venv /tmp/sdk-venv
    /tmp/sdk-venv/bin/pip install google-genai oci boto3
    /tmp/sdk-venv/bin/python scripts/capture_sdk_requests.py

- ``google-genai``: ``Client.models.generate_content`` against an httpx ``MockTransport`` that keeps the
  request body and answers a canned response (Google AI and Vertex AI request shapes);
- ``oci``: ``GenerativeAiInferenceClient.chat`` with the session's ``request`` replaced by a recorder; the
  body is what the SDK serialised from its request models;
- ``boto3``: ``bedrock-runtime`` ``converse`` with a ``before-send`` hook that keeps the body and answers
  a canned response, so botocore's parameter validation and serialisation run as they do for real.

The result is ``Tests/vectors/sdk_requests.json``: ``{"requests": [{codec, sdk, name, body}]}``. The
Gemini and OCI bodies become decode cases of ``scripts/capture_codec_vectors.py`` (reference expected
values); every body is checked for an exact decode-then-encode round trip by the test suites.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "Tests" / "vectors" / "sdk_requests.json"


def gemini() -> list[dict[str, Any]]:
    import httpx2 as httpx
    from google import genai
    from google.genai import types

    bodies: list[Any] = []
    canned = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
        "modelVersion": "gemini-2.5-flash",
    }

    def handler(request: Any) -> Any:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=canned)

    def client(vertex: bool) -> Any:
        opts = types.HttpOptions(httpx_client=httpx.Client(transport=httpx.MockTransport(handler)))
        if vertex:
            from google.oauth2.credentials import Credentials

            return genai.Client(
                vertexai=True, project="p", location="us-central1", credentials=Credentials("token"), http_options=opts
            )
        return genai.Client(api_key="test-key", http_options=opts)

    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Current weather for a city",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
    )
    requests: list[tuple[str, bool, Any, Any]] = [
        ("genai_text", False, "Why is the sky blue?", None),
        (
            "genai_config_system_thinking_schema",
            False,
            "List three colours.",
            types.GenerateContentConfig(
                system_instruction="Answer in JSON.",
                temperature=0.2,
                top_p=0.9,
                top_k=20,
                max_output_tokens=256,
                stop_sequences=["###"],
                candidate_count=1,
                seed=7,
                thinking_config=types.ThinkingConfig(thinking_budget=512, include_thoughts=True),
                response_mime_type="application/json",
                response_schema=types.Schema(type="ARRAY", items=types.Schema(type="STRING")),
                safety_settings=[
                    types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH", threshold="BLOCK_ONLY_HIGH")
                ],
                cached_content="cachedContents/abc",
            ),
        ),
        (
            "genai_tools_and_history",
            False,
            [
                types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
                types.Content(
                    role="model",
                    parts=[
                        types.Part(
                            function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}),
                            thought_signature=b"sig-1",
                        )
                    ],
                ),
                types.Content(
                    role="user",
                    parts=[
                        types.Part.from_function_response(name="get_weather", response={"temp_c": 18, "sky": "cloudy"})
                    ],
                ),
            ],
            types.GenerateContentConfig(
                tools=[
                    types.Tool(function_declarations=[weather]),
                    types.Tool(google_search=types.GoogleSearch()),
                    types.Tool(code_execution=types.ToolCodeExecution()),
                ],
                tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="AUTO")),
            ),
        ),
        (
            "genai_inline_and_file_data",
            False,
            [
                types.Part.from_bytes(data=b"\x89PNG\r\n", mime_type="image/png"),
                types.Part.from_uri(file_uri="gs://bucket/report.pdf", mime_type="application/pdf"),
                "Summarise the attachments.",
            ],
            None,
        ),
        (
            "vertex_text_with_labels",
            True,
            "Bonjour, ça va ?",
            types.GenerateContentConfig(labels={"team": "relay"}, max_output_tokens=64),
        ),
    ]
    out = []
    for name, vertex, contents, config in requests:
        client(vertex).models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
        out.append(
            {
                "codec": "gemini_generate_content",
                "sdk": f"google-genai {version('google-genai')}",
                "name": name,
                "body": bodies[-1],
            }
        )
    return out


def oci() -> list[dict[str, Any]]:
    from oci.generative_ai_inference import GenerativeAiInferenceClient
    from oci.generative_ai_inference import models as m

    bodies: list[Any] = []

    class Recorded(Exception):
        pass

    def record(method: str, url: str, data: Any = None, **kw: Any) -> Any:
        bodies.append(json.loads(data))
        raise Recorded()

    config = {
        "tenancy": "ocid1.tenancy.oc1..t",
        "user": "ocid1.user.oc1..u",
        "fingerprint": ":".join(["aa"] * 16),
        "key_content": _test_key(),
        "region": "us-chicago-1",
    }
    client = GenerativeAiInferenceClient(config)
    client.base_client.session.request = record  # type: ignore[method-assign]
    compartment = "ocid1.compartment.oc1..example"
    serving = m.OnDemandServingMode(model_id="meta.llama-3.3-70b-instruct")
    generic = m.GenericChatRequest(
        messages=[
            m.SystemMessage(content=[m.TextContent(text="You are terse.")]),
            m.UserMessage(content=[m.TextContent(text="Weather in Paris?")]),
            m.AssistantMessage(
                content=None,
                tool_calls=[m.FunctionCall(id="call-1", name="get_weather", arguments='{"city": "Paris"}')],
            ),
            m.ToolMessage(content=[m.TextContent(text='{"temp_c": 18}')], tool_call_id="call-1"),
        ],
        tools=[
            m.FunctionDefinition(
                name="get_weather",
                description="Current weather",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            )
        ],
        max_tokens=256,
        temperature=0.3,
        top_p=0.9,
        top_k=-1,
        frequency_penalty=0.0,
        presence_penalty=0.0,
        stop=["###"],
        is_stream=False,
        num_generations=1,
        seed=3,
    )
    cohere = m.CohereChatRequest(
        message="And tomorrow?",
        preamble_override="You are terse.",
        chat_history=[
            m.CohereUserMessage(message="Weather in Paris?"),
            m.CohereChatBotMessage(message="18 °C and cloudy."),
        ],
        max_tokens=128,
        temperature=0.5,
        top_p=0.75,
        top_k=0,
        is_stream=False,
        stop_sequences=["END"],
    )
    image = m.GenericChatRequest(
        messages=[
            m.UserMessage(
                content=[
                    m.TextContent(text="What is in this picture?"),
                    m.ImageContent(image_url=m.ImageUrl(url="data:image/png;base64,iVBORw0KGgo=", detail="AUTO")),
                ]
            )
        ],
        max_tokens=100,
    )
    dedicated = m.DedicatedServingMode(endpoint_id="ocid1.generativeaiendpoint.oc1..e")
    requests = [
        ("oci_generic_tools_history", serving, generic),
        ("oci_cohere_history", m.OnDemandServingMode(model_id="cohere.command-r-plus-08-2024"), cohere),
        ("oci_generic_image_dedicated", dedicated, image),
    ]
    out = []
    for name, mode, chat in requests:
        details = m.ChatDetails(compartment_id=compartment, serving_mode=mode, chat_request=chat)
        try:
            client.chat(details)
        except Recorded:
            pass
        out.append({"codec": "oci_genai", "sdk": f"oci {version('oci')}", "name": name, "body": bodies[-1]})
    return out


def _test_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def bedrock() -> list[dict[str, Any]]:
    import boto3
    from botocore.awsrequest import AWSResponse

    bodies: list[Any] = []
    canned = json.dumps(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "metrics": {"latencyMs": 1},
        }
    ).encode()

    class Raw:
        def stream(self, **kw: Any) -> Any:
            yield canned

    def send(request: Any, **kw: Any) -> Any:
        bodies.append(json.loads(request.body))
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, Raw())

    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
    )
    client.meta.events.register("before-send.bedrock-runtime.*", send)
    weather = {
        "toolSpec": {
            "name": "get_weather",
            "description": "Current weather",
            "inputSchema": {
                "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            },
        }
    }
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "boto3_converse_text",
            {
                "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "messages": [{"role": "user", "content": [{"text": "Why is the sky blue?"}]}],
                "system": [{"text": "Be brief."}],
                "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "topP": 0.9, "stopSequences": ["###"]},
            },
        ),
        (
            "boto3_converse_tools_history",
            {
                "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "messages": [
                    {"role": "user", "content": [{"text": "Weather in Paris?"}]},
                    {
                        "role": "assistant",
                        "content": [
                            {"reasoningContent": {"reasoningText": {"text": "Need the tool.", "signature": "sig"}}},
                            {"text": "Checking."},
                            {"toolUse": {"toolUseId": "tu-1", "name": "get_weather", "input": {"city": "Paris"}}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "toolResult": {
                                    "toolUseId": "tu-1",
                                    "content": [{"json": {"temp_c": 18}}, {"text": "cloudy"}],
                                    "status": "success",
                                }
                            }
                        ],
                    },
                ],
                "system": [{"text": "You are a weather bot."}, {"cachePoint": {"type": "default"}}],
                "toolConfig": {"tools": [weather, {"cachePoint": {"type": "default"}}], "toolChoice": {"auto": {}}},
                "additionalModelRequestFields": {"top_k": 50},
                "additionalModelResponseFieldPaths": ["/stop_sequence"],
                "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"},
                "requestMetadata": {"team": "relay"},
            },
        ),
        (
            "boto3_converse_image_document",
            {
                "modelId": "amazon.nova-pro-v1:0",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n"}}},
                            {"document": {"format": "pdf", "name": "report", "source": {"bytes": b"%PDF-1.4"}}},
                            {"text": "Compare them."},
                        ],
                    }
                ],
                "inferenceConfig": {"maxTokens": 100},
            },
        ),
        (
            "boto3_converse_stream_tool_choice",
            {
                "modelId": "meta.llama3-70b-instruct-v1:0",
                "messages": [{"role": "user", "content": [{"text": "¿Qué hora es en Tokio?"}]}],
                "toolConfig": {"tools": [weather], "toolChoice": {"tool": {"name": "get_weather"}}},
            },
        ),
    ]
    out = []
    for name, params in calls:
        if "stream" in name:
            try:
                client.converse_stream(**params)
            except Exception:  # the canned body is not an event stream; the request was recorded already
                pass
        else:
            client.converse(**params)
        out.append({"codec": "bedrock_converse", "sdk": f"boto3 {version('boto3')}", "name": name, "body": bodies[-1]})
    return out


def main() -> None:
    requests = gemini() + oci() + bedrock()
    OUT.write_text(
        json.dumps({"description": __doc__.split("\n\n")[0], "requests": requests}, indent=1, ensure_ascii=False) + "\n"
    )
    print(f"{OUT.relative_to(REPO)}: {len(requests)} requests")


if __name__ == "__main__":
    main()
