# SPDX-License-Identifier: Apache-2.0
"""Shared helpers: fresh contexts, event collection, placeholders (Tests/vectors/README.md, "Event scenarios")."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

# Run from a checkout without installing: the package sits next to the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nemo_relay  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "Tests" / "vectors"
_names = itertools.count()


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def run_fresh(fn: Callable[[], Any]) -> Any:
    """Runs ``fn`` in a new, empty context (its own scope stack and root), like a fresh thread."""
    return contextvars.Context().run(fn)


def arun(coro_fn: Callable[[], Any]) -> Any:
    """``asyncio.run`` of ``coro_fn()`` in a fresh context."""
    return run_fresh(lambda: asyncio.run(coro_fn()))


class Collector:
    """A global subscriber collecting canonical lines."""

    def __init__(self) -> None:
        self.name = f"test-collector-{next(_names)}"
        self.lines: list[str] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        nemo_relay.subscribers.register(self.name, self._on)

    def _on(self, ev: Any) -> None:
        with self._lock:
            self.lines.append(ev.to_json())
            self.threads.add(threading.current_thread().name)

    def events(self) -> list[dict[str, Any]]:
        nemo_relay.subscribers.flush()
        with self._lock:
            return [json.loads(line) for line in self.lines]

    def close(self) -> None:
        nemo_relay.subscribers.deregister(self.name)


@pytest.fixture
def collector() -> Any:
    c = Collector()
    yield c
    c.close()


def normalise(events: list[dict[str, Any]], root_uuid: str) -> list[dict[str, Any]]:
    uuids = {root_uuid: 1}
    stamps: dict[str, int] = {}
    out = []
    for e in events:
        e = dict(e)
        for k in ("parent_uuid", "propagation_root_uuid", "uuid"):
            u = e.get(k)
            if isinstance(u, str):
                uuids.setdefault(u, len(uuids) + 1)
                e[k] = f"<uuid:{uuids[u]}>"
        t = e.get("timestamp")
        if isinstance(t, str):
            stamps.setdefault(t, len(stamps) + 1)
            e["timestamp"] = f"<ts:{stamps[t]}>"
        p = e.get("category_profile")
        if isinstance(p, dict) and "time_to_first_chunk" in p:
            e["category_profile"] = {**p, "time_to_first_chunk": "<seconds>"}
        out.append(e)
    return out


def differences(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    out = []
    if len(got) != len(expected):
        out.append(f"event count {len(got)}, expected {len(expected)}")
    for i, (g, e) in enumerate(zip(got, expected)):
        for k in sorted(set(g) | set(e)):
            if g.get(k, "<absent>") != e.get(k, "<absent>"):
                out.append(
                    f"event {i} ({e.get('name')}) field {k}: got {g.get(k, '<absent>')!r}, expected {e.get(k, '<absent>')!r}"
                )
    return out
