# SPDX-License-Identifier: Apache-2.0
"""The flat wire form of annotated requests and responses, read through any ``nemo_relay``'s public API.

The vector capture and the codec differential run the reference (nemo-relay 0.10.4), whose annotated
types have no ``_wire()``: these helpers build the same JSON from the public attributes, so results from
both packages compare as plain JSON.
"""

from __future__ import annotations

import json
from typing import Any

REQUEST_FIELDS = [
    "messages",
    "instructions",
    "model",
    "params",
    "tools",
    "tool_choice",
    "store",
    "parallel_tool_calls",
    "stream",
    "previous_response_id",
    "user",
    "service_tier",
    "truncation",
    "reasoning",
    "include",
    "metadata",
    "max_output_tokens",
    "max_tool_calls",
    "top_logprobs",
    "api_specific",
]
RESPONSE_FIELDS = ["id", "model", "message", "tool_calls", "finish_reason", "usage", "api_specific"]
KNOWN_FINISH = {"complete", "length", "tool_use", "content_filter"}


def request_wire(a: Any) -> dict[str, Any]:
    """The annotated request in the flat wire form: set fields, then the extras at the top level."""
    out = {f: getattr(a, f) for f in REQUEST_FIELDS if getattr(a, f) is not None}
    out.update(a.extra or {})
    return json.loads(json.dumps(out))


def response_wire(r: Any) -> dict[str, Any]:
    """The annotated response in the flat wire form; an unknown finish reason as ``{"unknown": ...}``."""
    out = {f: getattr(r, f) for f in RESPONSE_FIELDS if getattr(r, f) is not None}
    fr = out.get("finish_reason")
    if isinstance(fr, str) and fr not in KNOWN_FINISH:
        out["finish_reason"] = {"unknown": fr}
    out.update(getattr(r, "extra", None) or {})
    return json.loads(json.dumps(out))


def request_from_wire(cls: Any, d: dict[str, Any]) -> Any:
    """An instance of ``cls`` (an ``AnnotatedLLMRequest``) built from the flat wire form ``d``."""
    d = dict(d)
    a = cls(d.pop("messages"))
    for f in REQUEST_FIELDS[1:]:
        if f in d:
            setattr(a, f, d.pop(f))
    if d:
        a.extra = d
    return a
