# SPDX-License-Identifier: Apache-2.0
"""The agent example traced with OpenTelemetry (docs/exporters.md, docs/otel.md): GenAI spans written to an
OTLP file, or sent to a local collector when an endpoint is given.

    NEMO_RELAY_LIB_PATH=$(swift build --show-bin-path)/libnemorelay.so \
        PYTHONPATH=bindings/python python3 examples/python/otel.py [OUTDIR | http://127.0.0.1:4318]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import agent  # noqa: E402 - the agent example next to this file
import nemo_relay  # noqa: E402


def main(target: str) -> None:
    if target.startswith("http://"):
        config = nemo_relay.OpenTelemetryConfig("gen_ai", target)  # one line: the collector's endpoint
    else:
        config = nemo_relay.OpenTelemetryFileSinkConfig("gen_ai", target, filename="traces.jsonl")
    config.service_name = "weather-agent"
    tracer = nemo_relay.OpenTelemetrySubscriber(config)
    tracer.register("example-otel")

    asyncio.run(agent.main())

    tracer.shutdown()  # exports every finished span, then stops
    if target.startswith("http://"):
        print(f"spans sent to {target}")
        return
    spans = [
        span
        for line in Path(target, "traces.jsonl").read_text(encoding="utf-8").splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    traces = {s["traceId"] for s in spans}
    print(f"{len(spans)} spans in {len(traces)} traces in {Path(target, 'traces.jsonl')}")
    for s in spans:
        attrs = {a["key"]: next(iter(a["value"].values())) for a in s.get("attributes", [])}
        model = attrs.get("gen_ai.request.model", "")
        print(f"  {s['traceId'][:8]} {s['name']:28} {model}")
    assert spans


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="nemo-relay-otel-"))
