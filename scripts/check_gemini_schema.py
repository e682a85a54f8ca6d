#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the Gemini request bodies of the vectors against google-genai's own models.

Every encoded Gemini body (the ``expected`` of each Gemini encode case) and every google-genai-built
body of ``Tests/vectors/sdk_requests.json`` is split into the members google-genai models (``contents``
items and ``systemInstruction`` as ``Content``, ``tools`` items as ``Tool``, ``toolConfig``,
``generationConfig``, ``safetySettings`` items), and each member is validated with the SDK's pydantic
model, which rejects unknown fields. Run it in the SDK venv of ``scripts/capture_sdk_requests.py``::

    /tmp/sdk-venv/bin/python scripts/check_gemini_schema.py

CI does not install google-genai; the Bedrock bodies get the equivalent check in CI through botocore.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from google.genai import types

REPO = Path(__file__).resolve().parents[1]
MODELS = {
    "systemInstruction": types.Content,
    "toolConfig": types.ToolConfig,
    "generationConfig": types.GenerationConfig,
}
LISTS = {"contents": types.Content, "tools": types.Tool, "safetySettings": types.SafetySetting}


def problems(body: dict[str, Any]) -> list[str]:
    out = []
    for key, model in MODELS.items():
        if key in body:
            try:
                model.model_validate(body[key])
            except Exception as e:  # pydantic.ValidationError
                out.append(f"{key}: {e}")
    for key, model in LISTS.items():
        for i, item in enumerate(body.get(key) or []):
            try:
                model.model_validate(item)
            except Exception as e:
                out.append(f"{key}[{i}]: {e}")
    return out


def main() -> int:
    vectors = json.loads((REPO / "Tests/vectors/gemini_generate_content.json").read_text())
    bodies = [(c["name"], c["expected"]) for c in vectors if c["op"] == "encode" and not c.get("expected_error")]
    sdk = json.loads((REPO / "Tests/vectors/sdk_requests.json").read_text())["requests"]
    bodies += [(r["name"], r["body"]) for r in sdk if r["codec"] == "gemini_generate_content"]
    # The models do reject what Gemini would: an unknown part member, non-object arguments.
    assert problems({"contents": [{"parts": [{"text": "x", "bogus": 1}]}]})
    assert problems({"contents": [{"parts": [{"functionCall": {"name": "f", "args": 5}}]}]})
    failed = 0
    for name, body in bodies:
        for p in problems(body):
            failed += 1
            print(f"{name}: {p}")
    print(f"{len(bodies)} Gemini bodies checked against google-genai's models, {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
