#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential run of the Gemini and OCI codecs against the reference on mutated vector inputs.

Every decode and decode_response input of ``Tests/vectors/{gemini_generate_content,oci_genai}.json`` and
every encode annotation is mutated (each member, to depth 4, replaced by values of other kinds or
removed; list items also removed, duplicated and swapped), and each mutation runs through this
repository's binding and through nemo-relay 0.10.4. Reported: calls where one side fails and the other
does not, and calls whose results differ, grouped by codec and operation, with a few examples.

    scripts/codec_differential.py [--lib PATH] [--ref-python PATH] [--examples N]

The reference's Python layer converts some annotation values itself (``True`` as ``1``, a string ``stop``
as a list of characters) and rejects annotations our binding accepts; those cases are counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import annotated_wire

REPO = Path(__file__).resolve().parents[1]
FILES = ["gemini_generate_content", "oci_genai"]
CLASSES = {"gemini_generate_content": "GeminiGenerateContentCodec", "oci_genai": "OCIGenAIChatCodec"}
INPUT_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "s",
    [],
    [1],
    {},
    {"role": 5},
    [{"type": 5}],
    "user",
    "model",
    {"text": "x"},
]
ANNOTATION_VALUES: list[Any] = [None, True, 0, "s", [], {}, "user", "assistant", "tool", {"type": "text", "text": "t"}]


def mutations(v: Any, values: list[Any], reorder: bool, depth: int = 0) -> list[Any]:
    out: list[Any] = []
    if depth >= 4:
        return out
    if isinstance(v, dict):
        for k in list(v):
            out += [{**v, k: r} for r in values]
            out.append({x: y for x, y in v.items() if x != k})
            out += [{**v, k: sub} for sub in mutations(v[k], values, reorder, depth + 1)]
    elif isinstance(v, list):
        for i in range(len(v)):
            out += [v[:i] + [r] + v[i + 1 :] for r in values]
            if reorder:
                out.append(v[:i] + v[i + 1 :])
                out.append(v[:i] + [v[i]] + v[i:])
                if i + 1 < len(v):
                    out.append(v[:i] + [v[i + 1], v[i]] + v[i + 2 :])
            out += [v[:i] + [sub] + v[i + 1 :] for sub in mutations(v[i], values, reorder, depth + 1)]
    return out


def cases() -> list[dict[str, Any]]:
    out = []
    for f in FILES:
        for c in json.loads((REPO / "Tests" / "vectors" / f"{f}.json").read_text()):
            if c["op"] == "encode":
                out += [
                    {"codec": f, "op": "encode", "input": c["input"], "annotated": m}
                    for m in mutations(c["annotated"], ANNOTATION_VALUES, True)
                    if isinstance(m.get("messages"), list)
                ]
            else:
                out += [{"codec": f, "op": c["op"], "input": m} for m in mutations(c["input"], INPUT_VALUES, False)]
    return out


def worker(cases_path: str, out_path: str) -> None:
    """Runs every case through whichever ``nemo_relay`` this interpreter imports."""
    import nemo_relay
    from nemo_relay import AnnotatedLLMRequest, LLMRequest
    from nemo_relay import codecs as codec_module

    ours = hasattr(AnnotatedLLMRequest, "_wire")

    def request_wire(a: Any) -> Any:
        return a._wire() if ours else annotated_wire.request_wire(a)

    def response_wire(r: Any) -> Any:
        return r._wire() if ours else annotated_wire.response_wire(r)

    def annotation(d: dict[str, Any]) -> Any:
        return AnnotatedLLMRequest._from_wire(d) if ours else annotated_wire.request_from_wire(AnnotatedLLMRequest, d)

    codecs = {k: getattr(codec_module, v)() for k, v in CLASSES.items()}
    results = []
    for c in json.loads(Path(cases_path).read_text()):
        codec = codecs[c["codec"]]
        try:
            if c["op"] == "decode":
                results.append({"ok": request_wire(codec.decode(LLMRequest({}, c["input"])))})
            elif c["op"] == "decode_response":
                results.append({"ok": response_wire(codec.decode_response(c["input"]))})
            else:
                try:
                    a = annotation(c["annotated"])
                except Exception as e:  # the annotation itself was refused by this binding
                    results.append({"refused": str(e)[:200]})
                    continue
                results.append({"ok": codec.encode(a, LLMRequest({}, c["input"])).content})
        except Exception as e:
            results.append({"err": str(e)[:300]})
    Path(out_path).write_text(json.dumps({"package": nemo_relay.__file__, "results": results}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default=os.environ.get("NEMO_RELAY_LIB_PATH"), help="libnemorelay.so to test")
    ap.add_argument("--ref-python", default=os.environ.get("REF_PYTHON", "/tmp/nemo-relay-ref-venv/bin/python"))
    ap.add_argument("--examples", type=int, default=2, help="examples printed per difference kind")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    if not args.lib:
        ap.error("--lib (or NEMO_RELAY_LIB_PATH) is required")
    all_cases = cases()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps(all_cases))
        ours_env = {**os.environ, "PYTHONPATH": str(REPO / "bindings" / "python"), "NEMO_RELAY_LIB_PATH": args.lib}
        ref_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEMO_RELAY_LIB_PATH")}
        procs = [
            subprocess.Popen([sys.executable, __file__, "--worker", str(path), f"{tmp}/ours.json"], env=ours_env),
            subprocess.Popen(
                [args.ref_python, __file__, "--worker", str(path), f"{tmp}/ref.json"], env=ref_env, cwd=tmp
            ),
        ]
        if any(p.wait() != 0 for p in procs):
            print("a worker failed", file=sys.stderr)
            return 2
        ours = json.loads((Path(tmp) / "ours.json").read_text())
        ref = json.loads((Path(tmp) / "ref.json").read_text())
    assert "site-packages" not in ours["package"] and "site-packages" in ref["package"], (
        ours["package"],
        ref["package"],
    )
    kinds: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], list[Any]] = {}
    for c, a, b in zip(all_cases, ours["results"], ref["results"]):
        if "refused" in a or "refused" in b:
            kind = "annotation refused by " + (
                "both" if "refused" in a and "refused" in b else "ours" if "refused" in a else "the reference"
            )
        elif ("err" in a) != ("err" in b):
            kind = "only ours fails" if "err" in a else "only the reference fails"
        elif "ok" in a and a["ok"] != b["ok"]:
            kind = "different result"
        else:
            kind = "same"
        key = (c["codec"], c["op"], kind)
        kinds[key] += 1
        if kind not in ("same",) and not kind.startswith("annotation"):
            examples.setdefault(key, []).append((c, a, b))
    print(f"{len(all_cases)} mutated calls")
    for key, n in sorted(kinds.items()):
        print(f"  {key[0]:24} {key[1]:16} {key[2]:40} {n}")
    for key, items in examples.items():
        print(f"\n== {' / '.join(key)}")
        for c, a, b in items[: args.examples]:
            print("  case:     ", json.dumps(c.get("annotated", c["input"]), ensure_ascii=False)[:400])
            print("  ours:     ", json.dumps(a, ensure_ascii=False)[:400])
            print("  reference:", json.dumps(b, ensure_ascii=False)[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
