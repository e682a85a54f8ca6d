#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Decodes the Swift OTLP encoder's output with opentelemetry-proto and compares it with the cases.

    python3 Tests/support/otlp_decode_check.py DIR

For every case of Tests/vectors/otlp_encoder.json, DIR holds what the Swift encoder wrote:
``NAME.pb`` (protobuf), ``NAME.json`` (OTLP/JSON) and ``NAME.jsonl`` (the file-sink line). Each is
decoded by the OpenTelemetry protobuf runtime (``ExportTraceServiceRequest.FromString``; for JSON,
hex ids rewritten to base64, then ``json_format.ParseDict``) and compared with the request the case
describes, built independently from the case's plain-JSON spans. The JSON must also be strict
RFC 8259 JSON (no NaN/Infinity literals) and the file line exactly one line.

Exit status: 0 when everything matches, 1 on a mismatch, 77 when ``opentelemetry.proto`` cannot be
imported (the reason is printed; the Swift test then skips).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import otlp_cases  # noqa: E402 - found through the path set above


def check(label: str, data: bytes, decode, want, failures: list[str]) -> int:
    """Decodes ``data`` and compares it with ``want``; returns 1 when it was compared."""
    try:
        got = decode(data)
    except Exception as e:  # noqa: BLE001 - any decode failure is a finding
        failures.append(f"{label}: does not decode: {type(e).__name__}: {e}")
        return 0
    if not otlp_cases.same_message(got, want):
        failures.append(f"{label}: decodes to a different request")
    return 1


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError as e:
        print(f"skip: opentelemetry.proto is not importable ({e}); pip install opentelemetry-proto")
        return 77

    def parse_json(data: bytes):
        return otlp_cases.parse_otlp_json(data, ExportTraceServiceRequest)

    out = Path(sys.argv[1])
    doc = json.loads((ROOT / "Tests/vectors/otlp_encoder.json").read_text(encoding="utf-8"))
    failures = []
    checked = 0
    for case in doc["cases"]:
        name = case["name"]
        want = otlp_cases.request(case)
        try:
            pb = (out / f"{name}.pb").read_bytes()
            js = (out / f"{name}.json").read_bytes()
            line = (out / f"{name}.jsonl").read_bytes()
        except OSError as e:
            failures.append(f"{name}: missing output: {e}")
            continue
        checked += check(f"{name}.pb", pb, ExportTraceServiceRequest.FromString, want, failures)
        if pb != want.SerializeToString():
            failures.append(f"{name}.pb: bytes differ from opentelemetry-proto's serialization")
        checked += check(f"{name}.json", js, parse_json, want, failures)
        if not case["spans"]:
            if line:
                failures.append(f"{name}.jsonl: an empty batch must write no line, got {len(line)} bytes")
            continue
        if not line.endswith(b"\n") or line.count(b"\n") != 1:
            failures.append(f"{name}.jsonl: not exactly one newline-terminated line")
            continue
        checked += check(f"{name}.jsonl", line[:-1], parse_json, want, failures)
    for f in failures:
        print(f"FAIL {f}")
    print(f"otlp_decode_check: {checked} encodings decoded and compared, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
