# SPDX-License-Identifier: Apache-2.0
"""Resident memory over N managed ``llm.execute`` calls from Python (one subscriber that keeps up, one request
intercept): prints the RSS after each tenth of the calls, so growth shows as a rising column.

    python3 bench/rss/rss.py [calls]    (default 1,000,000; NEMO_RELAY_LIB_PATH names the library)
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))

import nemo_relay  # noqa: E402
from nemo_relay import LLMRequest  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / 1048576


async def provider(request: LLMRequest) -> dict:
    return {"id": "r", "choices": []}


async def main(n: int) -> None:
    nemo_relay.subscribers.register("rss-sink", lambda event: None)
    nemo_relay.intercepts.register_llm_request(
        "rss-pass", 0, False, lambda name, request, annotated: nemo_relay.LLMRequestInterceptOutcome(request, annotated)
    )
    request = LLMRequest({}, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
    print(f"Python: RSS over {n:,} managed llm.execute calls (one request intercept, one subscriber)")
    print(f"{'calls':>12} {'RSS MB':>10}")
    print(f"{0:>12} {rss_mb():>10.1f}")
    for tenth in range(1, 11):
        for _ in range(n // 10):
            await nemo_relay.llm.execute("openai", request, provider)
        await nemo_relay.subscribers.flush_async()
        print(f"{tenth * (n // 10):>12} {rss_mb():>10.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(max(10, int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
