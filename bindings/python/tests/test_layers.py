# SPDX-License-Identifier: Apache-2.0
"""The package's modules stack in layers: no import cycle among them, counting the imports made inside
functions, which would only hide one (issue 14, "Files with one job each")."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nemo_relay"


def imports_of(path: Path) -> set[str]:
    """The package modules ``path`` imports (``from . import x``, ``from .x import y``), anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    mods = {p.stem: p for p in PACKAGE.glob("*.py")}
    return {m: {d for d in imports_of(p) if d in mods and d != m} for m, p in mods.items() if m != "__init__"}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d) :] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        path.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state:
            c = visit(m)
            if c:
                return c
    return None


def test_the_package_has_no_import_cycle() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
