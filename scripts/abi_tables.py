#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the bindings' ABI tables from include/nemo_relay.h, the one description of the C contract.

    python3 scripts/abi_tables.py            # rewrites the generated files
    python3 scripts/abi_tables.py --check    # fails if a generated file differs from the header's

The header is parsed for what a binding needs: integer constants (`#define` and `enum`), the
function-pointer typedefs, the options structs member by member (type, name, order), and every
`NEMO_RELAY_API` export with its return type, its parameters and the version in which it appeared
(the `@since` line of its doc comment). The two outputs carry that data and nothing else:

- bindings/python/nemo_relay/_abi.py: Python literals, turned into ctypes by `_ffi.py`;
- bindings/node/lib/abi.js: the same data as a CommonJS module, turned into helper kinds by `ffi.js`.

How a C type becomes a ctypes type or a helper kind is the bindings' business (one mapping each);
this script only describes the header, so a new export needs no hand-written row anywhere.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = REPO / "include" / "nemo_relay.h"
PY_OUT = REPO / "bindings" / "python" / "nemo_relay" / "_abi.py"
JS_OUT = REPO / "bindings" / "node" / "lib" / "abi.js"


class HeaderError(Exception):
    """The header has a construct this parser does not understand (so the tables would be wrong)."""


@dataclass
class Abi:
    version: tuple[int, int, int] = (0, 0, 0)
    constants: dict[str, int] = field(default_factory=dict)
    #: typedef name -> (return type, [parameter types])
    function_types: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: struct name -> [(member type, member name)], in declaration order
    structs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: (name, (major, minor), return type, [(parameter type, parameter name)])
    exports: list[tuple[str, tuple[int, int], str, list[tuple[str, str]]]] = field(default_factory=list)


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def _norm_type(t: str) -> str:
    """`const  char*` -> `const char *`, `char* *` -> `char **`: one spelling per type."""
    stars = t.count("*")
    base = " ".join(t.replace("*", " ").split())
    return f"{base} {'*' * stars}" if stars else base


def _split_params(args: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in args:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    out.append(cur)
    return [" ".join(p.split()) for p in out if p.strip()]


def _param(decl: str) -> tuple[str, str]:
    """A declaration `T name` or a function pointer `R (*name)(A, B)` as (type, name)."""
    m = re.fullmatch(r"(.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)", decl)
    if m:
        params = ", ".join(_norm_type(p) for p in _split_params(m.group(3)))
        return f"{_norm_type(m.group(1))} (*)({params})", m.group(2)
    m = re.fullmatch(r"(.+?[\s*])(\w+)", decl)
    if not m:
        raise HeaderError(f"cannot read the declaration {decl!r}")
    return _norm_type(m.group(1)), m.group(2)


def parse(src: str) -> Abi:
    abi = Abi()
    since: dict[str, tuple[int, int]] = {}
    for m in re.finditer(r"/\*\*((?:(?!\*/).)*?)\*/\s*NEMO_RELAY_API\s+[^;{]*?\b(nemo_relay_\w+)\s*\(", src, re.S):
        s = re.search(r"@since\s+(\d+)\.(\d+)", m.group(1))
        if not s:
            raise HeaderError(f"{m.group(2)}: its doc comment has no `@since M.m` line")
        since[m.group(2)] = (int(s.group(1)), int(s.group(2)))
    code = _strip_comments(src)

    for m in re.finditer(r"^\s*#define\s+(NEMO_RELAY_\w+)\s+(-?\d+)u?\s*$", code, re.M):
        abi.constants[m.group(1)] = int(m.group(2))
    for m in re.finditer(r"\benum\s*\{(.*?)\}\s*;", code, re.S):
        nxt = 0
        for item in m.group(1).split(","):
            item = item.strip()
            if not item:
                continue
            e = re.fullmatch(r"(NEMO_RELAY_\w+)(?:\s*=\s*(-?\d+))?", item)
            if not e:
                raise HeaderError(f"cannot read the enumerator {item!r}")
            nxt = int(e.group(2)) if e.group(2) is not None else nxt
            abi.constants[e.group(1)] = nxt
            nxt += 1
    abi.version = tuple(abi.constants[f"NEMO_RELAY_VERSION_{p}"] for p in ("MAJOR", "MINOR", "PATCH"))  # type: ignore[assignment]

    for m in re.finditer(r"\btypedef\s+([\w\s*]+?)\(\s*\*\s*(nemo_relay_\w+)\s*\)\s*\((.*?)\)\s*;", code, re.S):
        abi.function_types[m.group(2)] = (
            _norm_type(m.group(1)),
            [_param(p)[0] for p in _split_params(m.group(3))],
        )
    for m in re.finditer(r"\btypedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", code, re.S):
        if m.group(1) != m.group(3):
            raise HeaderError(f"struct {m.group(1)} is typedef'd as {m.group(3)}")
        members = [_param(" ".join(d.split())) for d in m.group(2).split(";") if d.strip()]
        abi.structs[m.group(1)] = members

    for m in re.finditer(r"NEMO_RELAY_API\s+([^;{(]*?)\b(nemo_relay_\w+)\s*\((.*?)\)\s*;", code, re.S):
        name, args = m.group(2), " ".join(m.group(3).split())
        params = [] if args in ("", "void") else [_param(p) for p in _split_params(args)]
        abi.exports.append((name, since[name], _norm_type(m.group(1)), params))
    missing = set(since) - {e[0] for e in abi.exports}
    if missing:
        raise HeaderError(f"documented but not parsed: {sorted(missing)}")
    return abi


_BANNER = "Generated from include/nemo_relay.h by scripts/abi_tables.py; do not edit."


def render_python(abi: Abi) -> str:
    lines = [
        "# SPDX-License-Identifier: Apache-2.0",
        f'"""The C contract as data. {_BANNER}"""',
        "",
        "VERSION = " + repr(abi.version),
        "",
        "#: Every integer constant of the header (``#define`` and ``enum``).",
        "CONSTANTS = {",
        *(f"    {k!r}: {v!r}," for k, v in abi.constants.items()),
        "}",
        "",
        "#: Function-pointer typedefs: name -> (return type, parameter types).",
        "FUNCTION_TYPES = {",
        *(f"    {k!r}: ({r!r}, {tuple(p)!r})," for k, (r, p) in abi.function_types.items()),
        "}",
        "",
        "#: Structs: name -> ((member type, member name), ...) in declaration order.",
        "STRUCTS = {",
    ]
    for name, members in abi.structs.items():
        lines.append(f"    {name!r}: (")
        lines += [f"        ({t!r}, {n!r})," for t, n in members]
        lines.append("    ),")
    lines += [
        "}",
        "",
        "#: Exports: (name, (major, minor) it appeared in, return type, ((parameter type, name), ...)).",
        "EXPORTS = (",
    ]
    for name, since, ret, params in abi.exports:
        lines.append(f"    ({name!r}, {since!r}, {ret!r}, (")
        lines += [f"        ({t!r}, {n!r})," for t, n in params]
        lines.append("    )),")
    lines += [")", ""]
    return "\n".join(lines)


def render_js(abi: Abi) -> str:
    def js(v: object) -> str:
        return json.dumps(v).replace('"', "'")

    lines = [
        "// SPDX-License-Identifier: Apache-2.0",
        "'use strict';",
        f"/** The C contract as data. {_BANNER} @module */",
        "",
        f"const VERSION = Object.freeze({js(list(abi.version))});",
        "",
        "/** Every integer constant of the header (`#define` and `enum`). */",
        "const CONSTANTS = Object.freeze({",
        *(f"  {k}: {v}," for k, v in abi.constants.items()),
        "});",
        "",
        "/** Function-pointer typedefs: name -> [return type, parameter types]. */",
        "const FUNCTION_TYPES = Object.freeze({",
        *(f"  {k}: [{js(r)}, {js(p)}]," for k, (r, p) in abi.function_types.items()),
        "});",
        "",
        "/** Structs: name -> [[member type, member name], ...] in declaration order. */",
        "const STRUCTS = Object.freeze({",
    ]
    for name, members in abi.structs.items():
        lines.append(f"  {name}: [")
        lines += [f"    {js([t, n])}," for t, n in members]
        lines.append("  ],")
    lines += [
        "});",
        "",
        "/** Exports: [name, [major, minor] it appeared in, return type, [[parameter type, name], ...]]. */",
        "const EXPORTS = Object.freeze([",
    ]
    for name, since, ret, params in abi.exports:
        lines.append(f"  [{js(name)}, {js(list(since))}, {js(ret)}, [")
        lines += [f"    {js([t, n])}," for t, n in params]
        lines.append("  ]],")
    lines += ["]);", "", "module.exports = { VERSION, CONSTANTS, FUNCTION_TYPES, STRUCTS, EXPORTS };", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = ap.parse_args()
    try:
        abi = parse(HEADER.read_text())
    except HeaderError as e:
        print(f"abi_tables: {HEADER.relative_to(REPO)}: {e}", file=sys.stderr)
        return 1
    stale = []
    for path, text in ((PY_OUT, render_python(abi)), (JS_OUT, render_js(abi))):
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(REPO)))
        else:
            path.write_text(text)
            print(f"abi_tables: wrote {path.relative_to(REPO)}")
    if stale:
        print(f"abi_tables: out of date with the header: {', '.join(stale)} (run python3 scripts/abi_tables.py)",
              file=sys.stderr)
        return 1
    if args.check:
        print(f"abi_tables: {len(abi.exports)} exports, {len(abi.structs)} structs, "
              f"{len(abi.constants)} constants up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
