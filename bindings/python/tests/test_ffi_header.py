# SPDX-License-Identifier: Apache-2.0
"""The ctypes prototype table matches include/nemo_relay.h: same names, same argument counts."""

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
