# SPDX-License-Identifier: Apache-2.0
"""The codec golden vectors as plain lines for the C client test, and the check of its results.

    python3 Tests/support/codec_cases.py write DIR    # DIR/cases.txt
    Tests/c/codec_vectors DIR/cases.txt DIR/results.txt
    python3 Tests/support/codec_cases.py check DIR    # compares DIR/results.txt with the vectors

``cases.txt`` holds three lines per case: ``codec<TAB>op<TAB>codec/name``, the call's first JSON argument
(``{"headers": {}, "content": input}`` for decode, the annotation for encode, the response for
decode_response) and its second (the original request for encode, ``null`` otherwise), each compact
on one line. ``results.txt`` has one line per case: ``name<TAB>OK<TAB>json`` or ``name<TAB>ERR<TAB>status``.
The check compares structurally (key order irrelevant, numbers by value), takes the encode result's
``content``, and for ``expected_error`` cases requires an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "openai_chat",
    "openai_responses",
    "anthropic_messages",
    "gemini_generate_content",
    "oci_genai",
    "bedrock_converse",
]


def cases() -> list[dict[str, Any]]:
    out = []
    for f in FILES:
        out.extend(json.loads((ROOT / "Tests" / "vectors" / f"{f}.json").read_text(encoding="utf-8")))
    return out


def compact(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for c in cases():
        request = {"headers": {}, "content": c["input"]}
        if c["op"] == "decode":
            first, second = request, None
        elif c["op"] == "encode":
            first, second = c.get("annotated"), request
        else:
            first, second = c["input"], None
        lines += [f"{c['codec']}\t{c['op']}\t{c['codec']}/{c['name']}", compact(first), compact(second)]
    (directory / "cases.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def check(directory: Path) -> int:
    results = {}
    for line in (directory / "results.txt").read_text(encoding="utf-8").splitlines():
        name, status, payload = line.split("\t", 2)
        results[name] = (status, payload)
    failures = []
    all_cases = cases()
    for c in all_cases:
        key = f"{c['codec']}/{c['name']}"
        if key not in results:
            failures.append(f"{c['codec']} {key}: no result")
            continue
        status, payload = results[key]
        if c.get("expected_error"):
            if status != "ERR":
                failures.append(f"{c['codec']} {key}: expected an error, got {payload[:200]}")
            continue
        if status != "OK":
            failures.append(f"{c['codec']} {key}: status {payload}")
            continue
        got = json.loads(payload)
        if c["op"] == "encode":
            got = got["content"]
        if got != c["expected"]:
            failures.append(f"{c['codec']} {key}: got {payload[:300]}")
    for f in failures:
        print("FAIL", f)
    print(f"codec vectors through the C client: {len(all_cases) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    verb, where = sys.argv[1], Path(sys.argv[2])
    if verb == "write":
        write(where)
    else:
        sys.exit(check(where))
