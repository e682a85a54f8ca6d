# SPDX-License-Identifier: Apache-2.0
"""The agent example with both exporters: its events as an ATOF JSON Lines file and its ATIF v1.7
trajectory (docs/exporters.md).

    NEMO_RELAY_LIB_PATH=$(swift build --show-bin-path)/libnemorelay.so \
        PYTHONPATH=bindings/python python3 examples/python/exporters.py [OUTDIR]
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


def main(outdir: Path) -> None:
    config = nemo_relay.AtofExporterConfig()
    config.output_directory = str(outdir)
    jsonl = nemo_relay.AtofExporter(config)
    jsonl.register("example-jsonl")
    trajectory = nemo_relay.AtifExporter("weather-session", "weather-agent", "1.0.0", model_name="gpt-4o-mini")
    trajectory.register("example-atif")

    asyncio.run(agent.main())

    jsonl.shutdown()  # flushes, then closes the file
    path = outdir / "trajectory.json"
    path.write_text(trajectory.export_json(), encoding="utf-8")
    steps = json.loads(path.read_text(encoding="utf-8"))["steps"]
    lines = Path(jsonl.path or "").read_text(encoding="utf-8").splitlines()
    print(f"ATOF: {len(lines)} events in {jsonl.path}")
    print(f"ATIF: {len(steps)} steps in {path}")
    for step in steps:
        calls = ", ".join(c["function_name"] for c in step.get("tool_calls", []))
        print(f"  {step['step_id']} {step['source']:5} {step['message'] or '(' + calls + ')'}")
    assert lines and steps


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="nemo-relay-example-")))
