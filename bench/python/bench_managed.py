# SPDX-License-Identifier: Apache-2.0
"""Microseconds per managed ``llm.execute`` (async provider, no middleware) and per scope push/pop.

Runs against whichever ``nemo_relay`` is importable. With ``--compare PYTHON`` it also runs the
same script under another interpreter (e.g. a scratch venv holding the reference package,
``/tmp/refvenv/bin/python``) and prints both side by side.

    NEMO_RELAY_LIB_PATH=$(swift build --show-bin-path)/libnemorelay.so \
        PYTHONPATH=bindings/python python3 bench/python/bench_managed.py --compare /tmp/refvenv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time


def measure(iterations: int) -> dict[str, float]:
    import nemo_relay
    from nemo_relay import LLMRequest, ScopeType

    request = LLMRequest({}, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    async def provider(req: LLMRequest) -> dict[str, str]:
        return {"text": "hi"}

    async def execute_loop(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await nemo_relay.llm.execute("bench", request, provider)
        return time.perf_counter() - t0

    def push_pop(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            h = nemo_relay.scope.push("bench", ScopeType.Function)
            nemo_relay.scope.pop(h)
        return time.perf_counter() - t0

    async def main() -> dict[str, float]:
        await execute_loop(min(2000, iterations))  # warm up
        push_pop(min(2000, iterations))
        best_exec = min([await execute_loop(iterations) for _ in range(3)])
        best_scope = min([push_pop(iterations) for _ in range(3)])
        nemo_relay.subscribers.flush() if False else None
        return {"llm_execute_us": best_exec / iterations * 1e6, "scope_push_pop_us": best_scope / iterations * 1e6}

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--iterations", type=int, default=20000)
    ap.add_argument("--json", action="store_true", help="print one JSON object (used by --compare)")
    ap.add_argument("--compare", metavar="PYTHON", help="interpreter with the reference nemo-relay installed")
    args = ap.parse_args()

    ours = measure(args.iterations)
    if args.json:
        print(json.dumps(ours))
        return
    rows = [("ours (libnemorelay, ctypes)", ours)]
    if args.compare:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEMO_RELAY_LIB_PATH")}
        out = subprocess.run(
            [args.compare, __file__, "--json", "-n", str(args.iterations)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(("reference nemo-relay 0.10.4", json.loads(out.stdout.strip().splitlines()[-1])))
    print(f"{'implementation':32} {'llm.execute us':>16} {'push+pop us':>14}")
    for name, r in rows:
        print(f"{name:32} {r['llm_execute_us']:16.2f} {r['scope_push_pop_us']:14.2f}")
    if len(rows) == 2:
        print(
            f"{'speed-up':32} {rows[1][1]['llm_execute_us'] / rows[0][1]['llm_execute_us']:15.1f}x "
            f"{rows[1][1]['scope_push_pop_us'] / rows[0][1]['scope_push_pop_us']:13.1f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
