# SPDX-License-Identifier: Apache-2.0
"""Writes the ATIF golden cases as plain files for the C and Node tests.

For every case of ``Tests/vectors/atif.json`` and the scenario of ``Tests/vectors/exporters.json``:
``OUTDIR/NAME.events.json`` (a JSON array of the raw ATOF events), ``NAME.config.json`` (the ATIF
exporter configuration with the reference's key names) and ``NAME.expected.json`` (the reference's
``export_json()`` text, byte for byte).

    python3 Tests/support/atif_cases.py OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cases() -> list[tuple[str, list, dict, str]]:
    out = []
    for case in json.loads((ROOT / "Tests/vectors/atif.json").read_text(encoding="utf-8")):
        out.append((case["name"], case["events"], case["options"], case["expected_json"]))
    scenario = json.loads((ROOT / "Tests/vectors/exporters.json").read_text(encoding="utf-8"))["scenario"]
    sys.path.insert(0, str(ROOT / "bindings/python/tests"))
    import exporter_scenario as s  # noqa: E402 - the scenario module holds the exporter's arguments

    config = {
        "session_id": "session-1",
        "agent_name": "demo-agent",
        "agent_version": "1.0.0",
        "model_name": "gpt-4o-mini",
        "tool_definitions": [s.WEATHER_TOOL],
        "extra": {"run": "exporter-scenario", "tags": ["golden"]},
    }
    out.append(("exporter_scenario", scenario["atof_raw"], config, scenario["atif_json_raw"]))
    return out


def main(outdir: str) -> None:
    d = Path(outdir)
    d.mkdir(parents=True, exist_ok=True)
    for name, events, config, expected in cases():
        dump = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
        (d / f"{name}.events.json").write_text(dump, encoding="utf-8")
        (d / f"{name}.config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        (d / f"{name}.expected.json").write_text(expected, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
