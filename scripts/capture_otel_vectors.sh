#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Captures Tests/vectors/otel.json and Tests/vectors/otel_propagation.json from the reference package
# (nemo-relay 0.10.4 on PyPI).
#
# Runs bindings/python/tests/otel_scenario.py and otel_propagation.py under the reference's Python (REF_PYTHON,
# default /tmp/nemo-relay-ref-venv/bin/python; create it with `python3 -m venv DIR && DIR/bin/pip install
# nemo-relay==0.10.4 opentelemetry-proto protobuf`). The OTLP receiver (Tests/support/otlp_receiver.py) runs
# under the same Python. The scenario is captured twice and the normalised forms must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
ref_python=${REF_PYTHON:-/tmp/nemo-relay-ref-venv/bin/python}
out=${1:-Tests/vectors/otel.json}
out_propagation=${2:-Tests/vectors/otel_propagation.json}

"$ref_python" - "$out" "$out_propagation" <<'EOF'
import json
import sys
from pathlib import Path

sys.path[:0] = ["scripts", "bindings/python/tests"]
from reference_check import require_otlp_proto, require_reference  # noqa: E402

require_otlp_proto()
import otel_propagation as prop  # noqa: E402
import otel_scenario as sc  # noqa: E402

ref = require_reference()

out, out_propagation = Path(sys.argv[1]), Path(sys.argv[2])
NORMALISED = ("requests", "resource", "scope", "events", "spans", "provider_requests", "runtime_diagnostics")

with sc.OtlpReceiver() as receiver:
    runs = [sc.run(list(sc.CONFIGS), receiver) for _ in range(2)]
    first, second = ({name: sc.vector(r) for name, r in run.items()} for run in runs)
    for name in sc.CONFIGS:
        for part in NORMALISED:
            if first[name][part] != second[name][part]:
                sys.exit(f"{name}: normalised {part} differs between two runs; the vector would not be stable")
    propagation = prop.run(receiver)

configurations = {name: first[name] for name in sc.CONFIGS}

doc = {
    "reference": f"nemo-relay {ref}",
    "description": sc.DESCRIPTION,
    "calls": sc.CALLS,
    "notes": (
        "One entry per OpenTelemetrySubscriber configuration, each from its own run of the same scenario "
        "(bindings/python/tests/otel_scenario.py). config: the OpenTelemetryConfig attributes set after "
        "OpenTelemetryConfig(type, endpoint) (endpoint = http://127.0.0.1:PORT, no path); env: environment "
        "variables set while the subscriber was built. requests: the OTLP/HTTP requests the receiver got "
        "(headers sorted by name; host port and content-length replaced) with their span counts. "
        "events_raw: the run's ATOF events as a plain subscriber got them (json.loads(event.to_json())). "
        "spans_raw: the exported spans, in arrival order (the order the scopes ended; marks that became spans "
        "at their own position), in the OTLP/JSON form: lowerCamelCase keys, hex ids, integer enums "
        "(kind 1 INTERNAL, 3 CLIENT; status code 1 OK, 2 ERROR), 64-bit integers as decimal strings, default "
        "values omitted, attributes in the exact order and multiplicity the reference sent them (keys can "
        "repeat). resource: sorted by key (the reference's own order varies between runs). "
        "provider_requests_raw: the headers each provider callback received. events/spans/provider_requests: "
        "one normalised copy of the three (one numbering): <uuid:N> by first appearance (<uuid:1> is the fresh "
        "context's implicit root), <trace:uuid:N> for a traceId equal to uuid N's 16 bytes, <span:uuid:N> for "
        "a spanId/parentSpanId equal to bytes 8..16 of uuid N (<span:K> otherwise), <ts:N> for RFC 3339 "
        "timestamps and *TimeUnixNano values numbered by instant (a span starting at its start event's "
        "timestamp gets the same N), time_to_first_chunk values -> <seconds>."
    ),
    "reference_nondeterminism": (
        "propagation_root_uuid on the streaming LLM end event is sometimes the thread root instead of the "
        "agent (a race in the reference's stream pump, as in events.json); the capture reruns a configuration "
        "until every end event carries its start event's value. The spans do not depend on the field."
    ),
    "configurations": configurations,
}
out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
for name, v in configurations.items():
    print(f"{out}: {name}: {len(v['events_raw'])} events, {len(v['spans_raw'])} spans", file=sys.stderr)

doc = {
    "reference": f"nemo-relay {ref}",
    "description": prop.__doc__.split("\n\n", 2)[2].strip(),
    "inputs": {
        "PARENT": prop.PARENT,
        "ROOT": prop.ROOT,
        "ZERO": prop.ZERO,
        "ZERO_TAIL": prop.ZERO_TAIL,
        "TRACEPARENT": prop.TRACEPARENT,
        "CALLER_TRACEPARENT": prop.CALLER_TRACEPARENT,
    },
    "notes": (
        "Each case keeps raw (real uuids) and normalised (own numbering per case, same placeholders as "
        "otel.json; the fixed inputs above, their hex forms and the W3C ids of TRACEPARENT and "
        "CALLER_TRACEPARENT stay verbatim). A result is {\"result\": value} or {\"error\": {\"type\", "
        "\"message\"}} (the Python exception class name and str(exception)); a PropagationContext result is "
        "{version, root_uuid, parent_uuid, traceparent, tracestate, to_json}. Span flags: 257 = 0x101 (sampled, "
        "parent is local), 769 = 0x301 (sampled, parent is remote). In the stack and two_process cases the first "
        "local span's trace id and remote parent come from the context the stack was created from (root_uuid, "
        "or the imported traceparent), which the events do not carry: they hold only parent_uuid and "
        "propagation_root_uuid (absent for a rootless stack)."
    ),
    **propagation,
}
out_propagation.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
print(
    f"{out_propagation}: "
    + ", ".join(f"{k}: {len(v) if isinstance(v, list) else 1}" for k, v in propagation.items()),
    file=sys.stderr,
)
EOF
