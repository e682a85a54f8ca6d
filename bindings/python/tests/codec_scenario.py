# SPDX-License-Identifier: Apache-2.0
"""Managed LLM calls through the Gemini and OCI codecs, for ``scripts/differential.py``.

Each call runs with the codec as request and response codec and a request intercept that rewrites the
last user message through the annotation. Prints (normalised) what each provider callback received and
every event, so the two packages can be diffed::

    scripts/differential.py bindings/python/tests/codec_scenario.py
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nemo_relay  # noqa: E402
from exporter_scenario import normalise  # noqa: E402
from nemo_relay import LLMRequest, LLMRequestInterceptOutcome  # noqa: E402
from nemo_relay.codecs import GeminiGenerateContentCodec, OCIGenAIChatCodec  # noqa: E402

VECTORS = Path(__file__).resolve().parents[3] / "Tests" / "vectors"


def cases() -> list[tuple[str, Any, dict[str, Any], dict[str, Any]]]:
    gemini = {c["name"]: c for c in json.loads((VECTORS / "gemini_generate_content.json").read_text())}
    oci = {c["name"]: c for c in json.loads((VECTORS / "oci_genai.json").read_text())}
    return [
        (
            "gemini",
            GeminiGenerateContentCodec(),
            gemini["encode_unchanged_is_identity"]["input"],
            gemini["response_text_stop_with_usage"]["input"],
        ),
        (
            "gemini-tools",
            GeminiGenerateContentCodec(),
            gemini["sdk_genai_tools_and_history"]["input"],
            gemini["response_function_calls_tool_use"]["input"],
        ),
        (
            "oci-generic",
            OCIGenAIChatCodec(),
            oci["encode_generic_unchanged_is_identity"]["input"],
            oci["response_generic_text"]["input"],
        ),
        (
            "oci-cohere",
            OCIGenAIChatCodec(),
            oci["encode_cohere_unchanged_is_identity"]["input"],
            oci["response_cohere_text_and_calls"]["input"],
        ),
    ]


def edit_last_user(name: str, request: LLMRequest, annotated: Any) -> Any:
    messages = list(annotated.messages)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            messages[i] = {"role": "user", "content": f"[{name}] edited"}
            break
    annotated.messages = messages
    return LLMRequestInterceptOutcome(request, annotated)


def run() -> dict[str, Any]:
    events: list[Any] = []
    sent: list[Any] = []
    nemo_relay.subscribers.register("codec-scenario", events.append)
    nemo_relay.intercepts.register_llm_request("edit", 1, False, edit_last_user)

    async def main() -> None:
        for name, codec, body, response in cases():

            async def provider(r: LLMRequest, response: Any = response) -> Any:
                sent.append(r.content)
                return response

            await nemo_relay.llm.execute(name, LLMRequest({}, body), provider, codec=codec, response_codec=codec)

    try:
        asyncio.run(main())
    finally:
        nemo_relay.intercepts.deregister_llm_request("edit")
        nemo_relay.subscribers.flush()
        nemo_relay.subscribers.deregister("codec-scenario")
    return {"sent": sent, "events": [e if isinstance(e, dict) else json.loads(e.to_json()) for e in events]}


if __name__ == "__main__":
    json.dump(normalise(run()), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
