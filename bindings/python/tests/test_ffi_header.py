# SPDX-License-Identifier: Apache-2.0
"""The ctypes tables match include/nemo_relay.h: names, argument counts, generated data, struct layouts."""

from __future__ import annotations

import re

from conftest import REPO

from nemo_relay import _ffi


def header_prototypes() -> dict[str, int]:
    src = (REPO / "include" / "nemo_relay.h").read_text()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    out: dict[str, int] = {}
    for m in re.finditer(r"NEMO_RELAY_API\s+[^;{]*?\b(nemo_relay_\w+)\s*\((.*?)\)\s*;", src, re.S):
        args = " ".join(m.group(2).split())
        if args in ("void", ""):
            out[m.group(1)] = 0
            continue
        # Split on top-level commas (function-pointer parameters contain parentheses).
        depth, count = 0, 1
        for ch in args:
            depth += ch == "("
            depth -= ch == ")"
            count += ch == "," and depth == 0
        out[m.group(1)] = count
    return out


def test_header_parses() -> None:
    protos = header_prototypes()
    assert len(protos) > 40
    assert protos["nemo_relay_llm_execute"] == 9
    assert protos["nemo_relay_subscriber_register"] == 6


def test_table_matches_header() -> None:
    header = header_prototypes()
    table = {name: len(argtypes) for name, _restype, argtypes in _ffi.PROTOTYPES}
    assert sorted(table) == sorted(header), (
        f"missing from the table: {sorted(set(header) - set(table))}; "
        f"not in the header: {sorted(set(table) - set(header))}"
    )
    wrong = {n: (table[n], header[n]) for n in header if table[n] != header[n]}
    assert not wrong, f"argument counts differ (table, header): {wrong}"


def test_owned_strings_are_void_pointers() -> None:
    """Owned char* results must stay freeable: never c_char_p for `char **out`."""
    import ctypes

    for name, _r, argtypes in _ffi.PROTOTYPES:
        for a in argtypes:
            assert a is not ctypes.POINTER(ctypes.c_char_p), name


def test_generated_tables_are_current() -> None:
    """_abi.py (and Node's abi.js) are what scripts/abi_tables.py makes of the header today."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "abi_tables.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_struct_layouts_match_the_c_compiler(tmp_path) -> None:
    """Every ctypes struct has the size and member offsets a C compiler gives the header's struct."""
    import ctypes
    import json
    import shutil
    import subprocess

    from nemo_relay import _abi

    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler is needed to check the struct layouts"
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "nemo_relay.h"', "int main(void) {", 'printf("{");']
    for i, (name, members) in enumerate(_abi.STRUCTS.items()):
        sep = "," if i else ""
        offsets = ", ".join(f'\\"{m}\\": %zu' for _t, m in members)
        args = ", ".join(f"offsetof({name}, {m})" for _t, m in members)
        lines.append(f'printf("{sep}\\"{name}\\": {{\\"size\\": %zu, {offsets}}}", sizeof({name}), {args});')
    lines += ['printf("}");', "return 0; }"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c99", "-I", str(REPO / "include"), str(src), "-o", str(exe)], check=True)
    c_layout = json.loads(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)
    assert set(c_layout) == set(_abi.STRUCTS)
    for name, members in _abi.STRUCTS.items():
        cls = _ffi._STRUCTS[name]
        got = {"size": ctypes.sizeof(cls), **{m: getattr(cls, m).offset for _t, m in members}}
        assert got == c_layout[name], name
