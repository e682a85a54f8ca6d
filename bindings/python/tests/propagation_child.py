# SPDX-License-Identifier: Apache-2.0
"""Process B of the two-process propagation test (``test_propagation.py``).

Reads one ``PropagationContext`` JSON per stdin line, creates a stack from it, and under it runs a
Function scope with a managed tool call and a managed LLM call. Every event goes to the JSON Lines
file named by ``argv[1]`` through a plain subscriber; the headers each LLM provider received and the
uuids of the work are printed as one JSON document on stdout.

    python propagation_child.py EVENTS.jsonl < contexts
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nemo_relay as nr

CHAT_RESPONSE = {
    "id": "chatcmpl-child",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}


def main(events_path: str) -> int:
    out = open(events_path, "w", encoding="utf-8")  # noqa: SIM115 - closed after the final flush
    nr.subscribers.register("child-jsonl", lambda e: out.write(e.to_json() + "\n"))
    jobs = []
    for line in sys.stdin:
        context = nr.PropagationContext.from_json(line.strip())

        async def body(context: Any = context) -> Any:
            stack = nr.create_scope_stack_from_propagation(context)
            seen: dict[str, Any] = {}
            with nr.use_scope_stack(stack), nr.scope.scope("remote-worker", nr.ScopeType.Function) as worker:
                await nr.tools.execute("lookup", {"q": 1}, lambda a: nr.ToolExecutionResult({"hit": a["q"]}))

                async def provider(req: Any) -> Any:
                    seen["headers"] = dict(req.headers)
                    await asyncio.sleep(0)
                    seen["capture"] = nr.capture_propagation_context().to_json()
                    return CHAT_RESPONSE

                await nr.llm.execute(
                    "openai",
                    nr.LLMRequest(
                        {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"},
                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                    ),
                    provider,
                )
                return {"worker": worker.uuid, **seen}

        jobs.append(contextvars.Context().run(lambda: asyncio.run(body())))
    nr.subscribers.flush()
    nr.subscribers.deregister("child-jsonl")
    out.close()
    json.dump({"jobs": jobs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
