#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Captures Tests/vectors/exporters.json from the reference package (nemo-relay 0.10.4 on PyPI).
#
# Runs bindings/python/tests/exporter_scenario.py under the reference's Python (REF_PYTHON, default
# /tmp/nemo-relay-ref-venv/bin/python; create it with `python3 -m venv DIR && DIR/bin/pip install
# nemo-relay==0.10.4`) and writes the JSONL records and the trajectory it produced, raw and normalised.
set -euo pipefail
cd "$(dirname "$0")/.."
ref_python=${REF_PYTHON:-/tmp/nemo-relay-ref-venv/bin/python}
out=${1:-Tests/vectors/exporters.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$ref_python" - "$work" "$out" <<'EOF'
import json
import sys
from pathlib import Path

sys.path[:0] = ["scripts", "bindings/python/tests"]
import exporter_scenario as sc  # noqa: E402
from reference_check import require_reference  # noqa: E402

ref = require_reference()

work, out = Path(sys.argv[1]), Path(sys.argv[2])


def consistent(events):
    """Every end event carries its start event's propagation_root_uuid (see reference_nondeterminism)."""
    starts = {e["uuid"]: e for e in events if e.get("scope_category") == "start"}
    return all(
        e["propagation_root_uuid"] == starts[e["uuid"]]["propagation_root_uuid"]
        for e in events
        if e.get("scope_category") == "end"
    )


for attempt in range(1, 21):
    result = sc.run(work)
    if consistent(result["atof"]):
        break
    print(f"attempt {attempt}: an end event's propagation_root_uuid differs from its start's; running again",
          file=sys.stderr)
else:
    sys.exit("no consistent run in 20 attempts")

# The parsed records must re-serialise to the exact bytes the reference wrote (compact, file key order,
# UTF-8 unescaped), so the committed objects stand for the file byte for byte.
text = (work / sc.ATOF_FILENAME).read_text(encoding="utf-8")
lines = text.split("\n")
assert lines[-1] == "" and len(lines) - 1 == len(result["atof"]), "one record per line, final newline"
for line, record in zip(lines, result["atof"]):
    assert json.dumps(record, ensure_ascii=False, separators=(",", ":")) == line, line
assert json.loads(result["atif_json"]) == result["atif"], "export_json() and export() disagree"

norm = sc.Normaliser(outdir=work)
scenario = {
    "description": sc.DESCRIPTION,
    "calls": sc.CALLS,
    "reference": f"nemo-relay {ref}",
    "notes": (
        "atof_raw: the JSONL records as written (json.dumps(record, ensure_ascii=False, separators=(',', ':')) "
        "gives each line back byte for byte). atif_raw: export() of the same run; atif_json_raw: export_json(), "
        "exact text. atof/atif: normalised with one numbering over both (atof first): <uuid:N> by first "
        "appearance, also inside strings (<uuid:1> is the fresh context's implicit root); <ts:N> by instant "
        "in order of first appearance (an ATIF step timestamp shares N with its ATOF event); ATIF "
        "invocation start/end epoch seconds -> <epoch:N> per occurrence; time_to_first_chunk -> <seconds>."
    ),
    "reference_nondeterminism": (
        "In the reference, propagation_root_uuid on the streaming LLM end event is sometimes the thread root "
        "instead of the agent (a race in the stream pump, also noted in events.json). The capture reruns the "
        "scenario until every end event carries its start event's value, which is what a correct "
        "implementation must emit. ATIF output does not depend on the field."
    ),
    "atof_raw": result["atof"],
    "atif_raw": result["atif"],
    "atif_json_raw": result["atif_json"],
    "atof": norm.value(result["atof"]),
    "atif": norm.value(result["atif"]),
}
out.write_text(json.dumps({"scenario": scenario}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"{out}: {len(result['atof'])} events, {len(result['atif']['steps'])} steps", file=sys.stderr)
EOF
