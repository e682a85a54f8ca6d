# SPDX-License-Identifier: Apache-2.0
"""Event injectors and sanitizers on both packages, for ``scripts/differential.py``: which scope is
current inside them, the parents of what they emit, what a failure clears, and where asynchronous
ones run (docs/middleware.md, "Event middleware"). Prints one JSON document.

    scripts/differential.py bindings/python/tests/event_middleware_scenario.py
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from typing import Any

import nemo_relay
from nemo_relay import ScopeType, guardrails, scope

events: list[dict[str, Any]] = []
nemo_relay.subscribers.register("scenario", lambda e: events.append(json.loads(e.to_json())))
cv: contextvars.ContextVar[str] = contextvars.ContextVar("scenario_cv", default="unset")
seen: list[Any] = []


def settle() -> None:
    time.sleep(0.2)
    nemo_relay.subscribers.flush()


# Sync start, mark and end sanitizers that emit: the current scope and the parents of what they emit.
def record(kind: str) -> Any:
    def sanitize(event: Any, fields: Any) -> Any:
        seen.append([kind, event.name, scope.get_handle().name])
        if not event.name.startswith("in-"):
            scope.event(f"in-{kind}-{event.name}")
        return fields

    return sanitize


guardrails.register_scope_sanitize_start("s", 1, record("start"))
guardrails.register_scope_sanitize_end("s", 1, record("end"))
guardrails.register_mark_sanitize("s", 1, record("mark"))
outer = scope.push("outer", ScopeType.Agent)
inner = scope.push("inner", ScopeType.Function)
scope.event("m1")
scope.pop(inner)
scope.pop(outer)
settle()
for f in (guardrails.deregister_scope_sanitize_start, guardrails.deregister_scope_sanitize_end):
    f("s")
guardrails.deregister_mark_sanitize("s")


# A raising sanitizer clears data, category_profile and metadata only.
def boom(event: Any, fields: Any) -> Any:
    raise ValueError("boom")


guardrails.register_mark_sanitize("boom", 1, boom)
scope.event("raised", data={"d": 1}, metadata={"m": 1})
settle()
guardrails.deregister_mark_sanitize("boom")


# A queued async end sanitizer keeps the scope of emission after the scope (and its parent) was popped.
async def queued(event: Any, fields: Any) -> Any:
    await asyncio.sleep(0.02)
    scope.event(f"later-in-{event.name}")
    return fields


async def queued_case() -> None:
    guardrails.register_scope_sanitize_end("q", 1, queued)
    a = scope.push("q-outer", ScopeType.Agent)
    b = scope.push("q-inner", ScopeType.Function)
    scope.pop(b)
    scope.event("after")
    await asyncio.sleep(0.1)
    scope.pop(a)
    await asyncio.sleep(0.1)
    await nemo_relay.subscribers.flush_async()
    guardrails.deregister_scope_sanitize_end("q")


contextvars.Context().run(lambda: asyncio.run(queued_case()))


# Async sanitizers: from a plain thread while the registering loop runs, and after it closed.
async def thread_case() -> None:
    cv.set("main")

    async def sanitize(event: Any, fields: Any) -> Any:
        seen.append(["async", event.name, cv.get(), threading.current_thread() is threading.main_thread()])
        await asyncio.sleep(0.01)
        return {**fields, "data": {"sanitized": True}}

    guardrails.register_mark_sanitize("a", 1, sanitize)

    def worker() -> None:
        cv.set("worker")
        scope.event("from-worker", data={"secret": 1})

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    await asyncio.sleep(0.2)
    await nemo_relay.subscribers.flush_async()


contextvars.Context().run(lambda: asyncio.run(thread_case()))
contextvars.Context().run(lambda: (cv.set("no-loop"), scope.event("after-close", data={"secret": 2})))
settle()
guardrails.deregister_mark_sanitize("a")

names = {e["uuid"]: e["name"] for e in events}
print(
    json.dumps(
        {
            "seen": seen,
            "events": [
                [e["kind"], e["name"], names.get(e.get("parent_uuid")), e.get("data"), e.get("metadata")]
                for e in events
            ],
        }
    )
)
