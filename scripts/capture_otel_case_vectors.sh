#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Captures Tests/vectors/otel_cases.json from the reference package (nemo-relay 0.10.4 on PyPI): the edge cases
# of bindings/python/tests/otel_cases.py, each exported by OpenTelemetrySubscriber to the loopback OTLP receiver.
#
# Uses the reference's Python (REF_PYTHON, default /tmp/nemo-relay-ref-venv/bin/python; see
# scripts/capture_otel_vectors.sh for how to create it).
set -euo pipefail
cd "$(dirname "$0")/.."
ref_python=${REF_PYTHON:-/tmp/nemo-relay-ref-venv/bin/python}
out=${1:-Tests/vectors/otel_cases.json}

"$ref_python" - "$out" <<'PY'
import json
import sys
from pathlib import Path

sys.path[:0] = ["scripts", "bindings/python/tests"]
from reference_check import require_otlp_proto, require_reference  # noqa: E402

require_otlp_proto()
import otel_cases  # noqa: E402
from otel_scenario import OtlpReceiver  # noqa: E402

import nemo_relay  # noqa: E402

ref = require_reference()

with OtlpReceiver() as receiver:
    cases = otel_cases.capture(nemo_relay, receiver)
doc = {
    "reference": f"nemo-relay {ref}",
    "description": otel_cases.__doc__.split("\n\n")[1].strip(),
    "notes": (
        "cases[].configurations[label]: config (the OpenTelemetryConfig attributes set after "
        "OpenTelemetryConfig(type, endpoint)), events_raw (the run's ATOF events as a plain subscriber got them), "
        "spans_raw (the exported spans in arrival order, OTLP/JSON as in otel.json: hex ids, integer enums, "
        "64-bit integers as decimal strings, defaults omitted, attributes in the order and multiplicity sent) "
        "and runtime_diagnostics (code, message, count). Each configuration is its own run, so uuids and "
        "timestamps differ between configurations."
    ),
    "cases": cases,
}
Path(sys.argv[1]).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
for c in cases:
    for label, v in c["configurations"].items():
        print(f"{sys.argv[1]}: {c['name']}/{label}: {len(v['events_raw'])} events, {len(v['spans_raw'])} spans",
              file=sys.stderr)
PY
