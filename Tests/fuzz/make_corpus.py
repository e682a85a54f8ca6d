#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the fuzz seed corpora from Tests/vectors/*.json (nothing generated is committed).

Usage: make_corpus.py OUT_DIR
  OUT_DIR/json/                  every JSON document in the vectors, and each case's input/expected value
  OUT_DIR/codec_<id>/            for each codec vector file: request bodies, annotations, responses
"""
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "Tests" / "vectors"
CODECS = (
    "openai_chat",
    "openai_responses",
    "anthropic_messages",
    "gemini_generate_content",
    "oci_genai",
    "bedrock_converse",
)


def write(folder: pathlib.Path, text: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(text).hexdigest()).write_bytes(text)


def dump(value, spaced: bool = False) -> bytes:
    if spaced:
        return json.dumps(value, indent=1, ensure_ascii=False).encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    json_dir = out / "json"
    for path in sorted(VECTORS.glob("*.json")):
        doc = json.loads(path.read_text())
        write(json_dir, path.read_bytes()[:64 * 1024])
        cases = doc if isinstance(doc, list) else doc.get("cases", [])
        for case in cases if isinstance(cases, list) else []:
            for key in ("input", "expected", "annotated"):
                if isinstance(case, dict) and key in case:
                    write(json_dir, dump(case[key]))
                    write(json_dir, dump(case[key], spaced=True))
    # A few spellings the vectors do not hold: escapes, surrogate pairs, exponents, -0, deep nesting.
    for text in (r'"\ud83d\ude00\u00e9\n\t\\\/"', "[-0,-0.0,1e308,-1E-308,123456789012345678901]",
                 "{\"a\":{\"b\":[[[[[]]]]]}}", "[" * 40 + "]" * 40, "18446744073709551615"):
        write(json_dir, text.encode())

    for codec in CODECS:
        cases = json.loads((VECTORS / f"{codec}.json").read_text())
        folder = out / f"codec_{codec}"
        for case in cases:
            write(folder, dump(case["input"]))
            if "annotated" in case:
                write(folder, dump(case["annotated"]))
            if case.get("op") == "decode" and "expected" in case:
                write(folder, dump(case["expected"]))
    print(out)


if __name__ == "__main__":
    main()
