# SPDX-License-Identifier: Apache-2.0
"""Event injectors and sanitizers: where asynchronous ones run, in which context, what a failure clears,
and which scope is current inside them (docs/middleware.md, "Event middleware"). Each case was
observed on the reference (nemo-relay 0.10.4) with the same code."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

from conftest import arun, run_fresh

import nemo_relay
from nemo_relay import ScopeType, guardrails, scope, scope_local

cv: contextvars.ContextVar[str] = contextvars.ContextVar("test_event_middleware_cv", default="unset")


def by_name(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in events}


def parent_names(events: list[dict[str, Any]]) -> dict[str, str | None]:
    names = {e["uuid"]: e["name"] for e in events}
    return {e["name"]: names.get(e.get("parent_uuid")) for e in events if e["kind"] == "mark"}


def test_an_async_sanitizer_of_an_event_from_a_plain_thread_runs_on_its_loop_in_the_emitters_context(
    collector: Any,
) -> None:
    seen: list[tuple[str, str, bool]] = []

    async def main() -> None:
        async def sanitize(event: Any, fields: Any) -> Any:
            seen.append((event.name, cv.get(), threading.current_thread() is threading.main_thread()))
            await asyncio.sleep(0.01)
            return {**fields, "data": {"sanitized": event.name}}

        guardrails.register_mark_sanitize("em-plain-thread", 1, sanitize)
        try:

            def worker() -> None:
                cv.set("worker")
                scope.event("from-worker", data={"secret": 1})

            t = threading.Thread(target=worker)
            t.start()
            t.join()
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.01)
            await nemo_relay.subscribers.flush_async()
        finally:
            guardrails.deregister_mark_sanitize("em-plain-thread")

    arun(main)
    # The registering loop (the main thread's) ran it, with the emitting thread's context.
    assert seen == [("from-worker", "worker", True)]
    assert by_name(collector.events())["from-worker"]["data"] == {"sanitized": "from-worker"}


def test_an_async_sanitizer_registered_on_a_closed_loop_still_runs(collector: Any) -> None:
    ran: list[str] = []

    async def register() -> None:
        async def sanitize(event: Any, fields: Any) -> Any:
            await asyncio.sleep(0)
            ran.append(f"{event.name}:{cv.get()}")
            return {**fields, "data": {"ok": True}}

        guardrails.register_mark_sanitize("em-closed-loop", 1, sanitize)

    arun(register)
    try:
        # No loop anywhere: the binding's fallback loop runs it.
        run_fresh(lambda: (cv.set("sync"), scope.event("no-loop", data={"x": 1})))
        nemo_relay.subscribers.flush()

        async def emit() -> None:  # another loop, on the emitting thread: it runs there
            cv.set("other-loop")
            scope.event("other-loop", data={"x": 2})
            await asyncio.sleep(0.05)
            await nemo_relay.subscribers.flush_async()

        arun(emit)
        events = by_name(collector.events())
    finally:
        guardrails.deregister_mark_sanitize("em-closed-loop")
    assert sorted(ran) == ["no-loop:sync", "other-loop:other-loop"]
    assert events["no-loop"]["data"] == {"ok": True}
    assert events["other-loop"]["data"] == {"ok": True}


def test_a_loop_closing_before_it_started_the_sanitizer_hands_it_to_the_fallback_loop(collector: Any) -> None:
    registered = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def loop_thread() -> None:
        async def main() -> None:
            async def sanitize(event: Any, fields: Any) -> Any:
                ran.append(threading.current_thread().name)
                return {**fields, "data": "clean"}

            guardrails.register_mark_sanitize("em-dying-loop", 1, sanitize)
            registered.set()
            # Block the loop (no await): the handle queued meanwhile never runs before the loop closes.
            release.wait(5)

        asyncio.run(main())

    t = threading.Thread(target=loop_thread, name="dying-loop")
    t.start()
    try:
        assert registered.wait(5)
        run_fresh(lambda: scope.event("while-dying", data="secret"))
        release.set()
        t.join(5)
        events = by_name(collector.events())
    finally:
        release.set()
        guardrails.deregister_mark_sanitize("em-dying-loop")
    assert len(ran) == 1 and ran[0] not in ("dying-loop", threading.current_thread().name)  # the fallback loop's
    assert events["while-dying"]["data"] == "clean"


def test_a_raising_sanitizer_clears_the_observability_fields_and_nothing_else(collector: Any) -> None:
    def boom(event: Any, fields: Any) -> Any:
        raise ValueError("boom")

    def body() -> None:
        guardrails.register_scope_sanitize_start("em-raise", 1, boom)
        guardrails.register_mark_sanitize("em-raise", 1, boom)
        try:
            h = scope.push("raised", ScopeType.Tool, data={"in": 1}, metadata={"m": 1})
            scope.event("raised-mark", data={"d": 1}, metadata={"m": 2})
            scope.pop(h)
        finally:
            guardrails.deregister_scope_sanitize_start("em-raise")
            guardrails.deregister_mark_sanitize("em-raise")

    run_fresh(body)
    events = collector.events()
    start = next(e for e in events if e["name"] == "raised" and e["kind"] == "scope")
    mark = by_name(events)["raised-mark"]
    for e in (start, mark):
        assert e["data"] is None and e["metadata"] is None and e.get("category_profile") is None
        assert e["uuid"] and e["timestamp"] and e["parent_uuid"]
    assert start["category"] == "tool" and start["name"] == "raised"
    assert parent_names(events)["raised-mark"] == "raised"


def test_the_scope_an_end_event_closes_is_current_inside_its_middleware(collector: Any) -> None:
    handles: list[tuple[str, str]] = []

    def end(event: Any, fields: Any) -> Any:
        handles.append((event.name, scope.get_handle().name))
        scope.event(f"in-end-{event.name}")
        return fields

    def mark(event: Any, fields: Any) -> Any:
        handles.append((event.name, scope.get_handle().name))
        return fields

    def body() -> None:
        guardrails.register_scope_sanitize_end("em-current", 1, end)
        guardrails.register_mark_sanitize("em-current", 1, mark)
        try:
            outer = scope.push("outer", ScopeType.Agent)
            inner = scope.push("inner", ScopeType.Function)
            scope.pop(inner)
            scope.event("after-inner")
            scope.pop(outer)
            nemo_relay.subscribers.flush()  # the reference runs event middleware behind a queue
        finally:
            guardrails.deregister_scope_sanitize_end("em-current")
            guardrails.deregister_mark_sanitize("em-current")

    run_fresh(body)
    assert handles == [
        ("inner", "inner"),
        ("in-end-inner", "inner"),
        ("after-inner", "outer"),  # once the end event is done, the stack's top is current again
        ("outer", "outer"),
        ("in-end-outer", "outer"),
    ]
    assert parent_names(collector.events()) == {"in-end-inner": "inner", "after-inner": "outer", "in-end-outer": "outer"}


def test_a_queued_sanitizer_keeps_the_scope_of_emission_after_it_was_popped(collector: Any) -> None:
    async def end(event: Any, fields: Any) -> Any:
        await asyncio.sleep(0.02)
        scope.event(f"later-in-{event.name}")
        return fields

    async def main() -> None:
        guardrails.register_scope_sanitize_end("em-queued", 1, end)
        try:
            outer = scope.push("q-outer", ScopeType.Agent)
            inner = scope.push("q-inner", ScopeType.Function)
            scope.pop(inner)
            scope.event("after")  # waits behind the pending end event
            await asyncio.sleep(0.1)
            scope.pop(outer)
            await asyncio.sleep(0.1)
            await nemo_relay.subscribers.flush_async()
        finally:
            guardrails.deregister_scope_sanitize_end("em-queued")

    arun(main)
    events = collector.events()
    assert parent_names(events) == {"later-in-q-inner": "q-inner", "after": "q-outer", "later-in-q-outer": "q-outer"}
    order = [e["name"] for e in events if e["kind"] == "mark" or e["scope_category"] == "end"]
    assert order == ["q-inner", "later-in-q-inner", "after", "q-outer", "later-in-q-outer"]


def test_sync_async_and_failing_injectors_leave_the_event_well_formed(collector: Any) -> None:
    def sync(event: Any) -> Any:
        return {"sync": event.name}

    async def later(event: Any) -> Any:
        await asyncio.sleep(0)
        return {"async": event.name}

    def failing(event: Any) -> Any:
        raise RuntimeError("injector down")

    nemo_relay.event_metadata.register_injector("em-sync", 1, sync)
    nemo_relay.event_metadata.register_injector("em-async", 2, later)
    nemo_relay.event_metadata.register_injector("em-fail", 3, failing)
    try:

        async def main() -> None:
            scope.event("inj-loop", data={"d": 1}, metadata={"orig": 1})
            await asyncio.sleep(0.05)
            await nemo_relay.subscribers.flush_async()

        arun(main)
        run_fresh(lambda: scope.event("inj-no-loop", data={"d": 2}))
        nemo_relay.subscribers.flush()
        events = by_name(collector.events())
    finally:
        for n in ("em-sync", "em-async", "em-fail"):
            nemo_relay.event_metadata.deregister_injector(n)
    assert events["inj-loop"]["metadata"] == {"orig": 1, "sync": "inj-loop", "async": "inj-loop"}
    assert events["inj-loop"]["data"] == {"d": 1}
    assert events["inj-no-loop"]["metadata"] == {"sync": "inj-no-loop", "async": "inj-no-loop"}
    assert events["inj-no-loop"]["data"] == {"d": 2}


def test_a_scope_local_injector_applies_only_to_events_of_its_scope(collector: Any) -> None:
    def body() -> None:
        a = scope.push("inj-a", ScopeType.Agent)
        scope_local.register_event_metadata_injector(a, "em-local", 1, lambda e: {"local": True})
        scope.event("inside-a")
        b = scope.push("inj-b", ScopeType.Function)
        scope.event("inside-b")
        scope.pop(b)
        scope.pop(a)
        scope.event("outside")

    run_fresh(body)
    run_fresh(lambda: scope.event("other-stack"))
    events = collector.events()
    marks = {e["name"]: e["metadata"] for e in events if e["kind"] == "mark"}
    assert marks == {"inside-a": {"local": True}, "inside-b": {"local": True}, "outside": None, "other-stack": None}
    ends = {e["name"]: e["metadata"] for e in events if e["kind"] == "scope" and e["scope_category"] == "end"}
    assert ends == {"inj-b": {"local": True}, "inj-a": {"local": True}}
