#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Micro-benchmark of the Python binding's JSON crossing, the path issue 13's NaN check runs on.

    NEMO_RELAY_LIB_PATH=$(swift build -c release --show-bin-path)/libnemorelay.so \\
        python3 bench/json_crossing.py            # orjson when installed
    NEMO_RELAY_PURE_JSON=1 ... python3 bench/json_crossing.py   # the stdlib path

Prints one JSON line: microseconds per call (best of 7 rounds) to encode a typical chat completion
(it holds nulls, so the orjson path walks it for NaN and infinities) and a request, to convert a
request's content, to build an LLMRequest, and for a whole managed llm.execute returning that
completion. ``--binding DIR`` measures another copy of the binding (e.g. an older _json.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import timeit
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

RESPONSE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello " * 40, "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52},
}
REQUEST = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi " * 30}, {"role": "assistant", "content": None}] * 4,
    "temperature": 0.2,
    "max_tokens": 256,
}


def best(fn: Any, n: int) -> float:
    return min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binding", default=str(REPO / "bindings" / "python"), help="folder holding nemo_relay")
    ap.add_argument("-n", type=int, default=20000, help="calls per round for the encode measurements")
    args = ap.parse_args()
    sys.path.insert(0, args.binding)
    from nemo_relay import LLMRequest, _json, llm

    req = LLMRequest({}, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2})

    async def calls(n: int) -> float:
        out = 1e9
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                await llm.execute("m", req, lambda r: RESPONSE)
            out = min(out, (time.perf_counter() - t) / n * 1e6)
        return out

    print(
        json.dumps(
            {
                "orjson": _json.HAVE_ORJSON,
                "encode_response_us": round(best(lambda: _json.encode(RESPONSE), args.n), 3),
                "encode_request_us": round(best(lambda: _json.encode(REQUEST), args.n), 3),
                "convert_request_us": round(best(lambda: _json.convert(REQUEST), args.n), 3),
                "LLMRequest_us": round(best(lambda: LLMRequest({}, REQUEST), args.n), 3),
                "llm_execute_us": round(asyncio.run(calls(max(1, args.n // 10))), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
