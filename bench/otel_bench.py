#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OpenTelemetry export cost (docs/exporters.md): the emitting thread's cost per managed LLM call with an
``OpenTelemetrySubscriber`` registered versus none, and export throughput (spans/s) over OTLP/HTTP to the
loopback receiver Tests/support/otlp_receiver.py (which decodes every request with opentelemetry-proto, so
the rate is a floor for the exporter).

    NEMO_RELAY_LIB_PATH=$(swift build -c release --show-bin-path)/libnemorelay.so \
        PYTHONPATH=bindings/python python3 bench/otel_bench.py [--calls N] [--spans N] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))

import nemo_relay as nr  # noqa: E402
from otel_scenario import OtlpReceiver  # noqa: E402

RESPONSE = {
    "id": "c1",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2},
}


def provider(_req: Any) -> Any:
    return RESPONSE


async def calls(n: int) -> float:
    """Seconds of emitting-thread CPU per managed call (agent scope + llm.execute)."""
    req = nr.LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    start = time.thread_time()
    for _ in range(n):
        with nr.scope.scope("agent", nr.ScopeType.Agent):
            await nr.llm.execute("openai", req, provider)
    return (time.thread_time() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--spans", type=int, default=50000)
    ap.add_argument("--smoke", action="store_true", help="a few hundred operations, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.calls, args.spans = 200, 500
    with OtlpReceiver() as rx:
        base = min(asyncio.run(calls(args.calls)) for _ in range(3))
        s = nr.OpenTelemetrySubscriber(nr.OpenTelemetryConfig("gen_ai", rx.url))
        s.register("bench-otel")
        with_otel = min(asyncio.run(calls(args.calls)) for _ in range(3))
        s.force_flush()
        s.shutdown()
        print(f"managed LLM call (agent scope + llm.execute), emitting-thread CPU, {args.calls:,} calls")
        print(f"  no subscriber                      {base * 1e6:8.2f} us")
        print(f"  OpenTelemetrySubscriber (gen_ai)   {with_otel * 1e6:8.2f} us  (+{(with_otel - base) * 1e6:.2f} us)")

        rx.reset()
        cfg = nr.OpenTelemetryConfig("full", rx.url)
        s = nr.OpenTelemetrySubscriber(cfg)
        s.register("bench-otel-throughput")
        start = time.perf_counter()
        for _ in range(args.spans):
            with nr.scope.scope("step", nr.ScopeType.Function):
                pass
        emitted = time.perf_counter() - start
        s.force_flush()
        total = time.perf_counter() - start
        d = s.diagnostics()
        s.shutdown()
        exported = d["spans_exported"]
        print(f"export to the loopback OTLP receiver (full, protobuf), {args.spans:,} spans")
        print(
            f"  exported {exported:,}, dropped {d['spans_dropped'] + d['queue_dropped']:,} in {total:.2f} s "
            f"(emitting {emitted:.2f} s): {exported / total:,.0f} spans/s, {len(rx.requests())} requests"
        )


if __name__ == "__main__":
    main()
