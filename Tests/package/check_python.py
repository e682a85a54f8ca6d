# SPDX-License-Identifier: Apache-2.0
"""Run by Tests/package/run.sh with the interpreter of a fresh venv holding only the nemo-relay wheel.

Checks that the package and its library come from the venv, that no Swift toolchain file is mapped
into the process, and that a scope around a managed tool call produces the expected events.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

toolchain = sys.argv[1]
for var in ("NEMO_RELAY_LIB_PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH"):
    assert var not in os.environ, f"{var} is set"

t0 = time.perf_counter()
import nemo_relay  # noqa: E402

import_ms = (time.perf_counter() - t0) * 1000
from nemo_relay import ScopeType  # noqa: E402

assert nemo_relay.__file__.startswith(sys.prefix), f"nemo_relay imported from {nemo_relay.__file__}"
assert nemo_relay.__version__ == nemo_relay.LIBRARY_VERSION, (nemo_relay.__version__, nemo_relay.LIBRARY_VERSION)

events = []
nemo_relay.subscribers.register("package-check", events.append)


async def main() -> object:
    with nemo_relay.scope.scope("package-agent", ScopeType.Agent):
        done = await nemo_relay.tools.execute("add", {"a": 2, "b": 3}, lambda args: {"sum": args["a"] + args["b"]})
        return done.result


result = asyncio.run(main())
nemo_relay.subscribers.flush()
assert result == {"sum": 5}, result
seen = [(e.kind, e.scope_category, e.category, e.name) for e in events if e.kind == "scope"]
assert seen == [
    ("scope", "start", "agent", "package-agent"),
    ("scope", "start", "tool", "add"),
    ("scope", "end", "tool", "add"),
    ("scope", "end", "agent", "package-agent"),
], seen

maps = open("/proc/self/maps").read()
libs = {line.split()[-1] for line in maps.splitlines() if "libnemorelay" in line}
assert libs and all(p.startswith(sys.prefix) for p in libs), libs
assert toolchain not in maps, f"a file of {toolchain} is mapped"
assert "libswift" not in maps, "a Swift runtime library is mapped"
print(f"python: nemo_relay {nemo_relay.__version__} from {os.path.dirname(nemo_relay.__file__)}, "
      f"library {sorted(libs)[0]}, {len(events)} events, import {import_ms:.0f} ms")
