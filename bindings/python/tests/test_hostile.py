# SPDX-License-Identifier: Apache-2.0
"""The hostile-input catalogue for the Python binding (issue 13; /work/notes/hostile-catalogue.md).

Each test is named after its catalogue entry: ``test_<entry>_<case>``. Entries that can take the
process down (process exit, shutdown in flight) run in a subprocess; everything has a time bound so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import nemo_relay
from nemo_relay import LLMRequest, guardrails, llm, scope, subscribers, tools
from conftest import Collector, arun, run_fresh

HERE = Path(__file__).resolve().parent
BINDING = HERE.parent


def run_child(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter with this binding importable; fails on a timeout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BINDING), str(HERE)])}
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child process hung for {timeout} s; stdout: {e.stdout!r}; stderr: {e.stderr!r}")


# ---- nan-infinity: JSON has no NaN or Infinity; they raise instead of becoming null ------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_infinity_in_request_content_raise_naming_the_path(bad: float) -> None:
    with pytest.raises(ValueError, match=r"is not JSON \(at \$\.messages\[0\]\.temperature\)"):
        LLMRequest({}, {"messages": [{"role": "user", "temperature": bad}]})


def test_nan_infinity_never_reach_the_provider_as_null() -> None:
    """The issue's report: a NaN put into a request (here by an intercept) reached the provider as ``null``."""
    seen: list[Any] = []

    def intercept(name: str, request: LLMRequest, annotated: Any) -> Any:
        return LLMRequest(request.headers, {**request.content, "score": math.nan}), annotated

    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            seen.append(req.content)
            return {"ok": True}

        with pytest.raises(ValueError, match=r"NaN is not JSON \(at \$\.score\)"):
            await llm.execute("m", LLMRequest({}, {"q": 1}), provider)

    nemo_relay.intercepts.register_llm_request("nan", 0, False, intercept)
    try:
        arun(main)
    finally:
        nemo_relay.intercepts.deregister_llm_request("nan")
    assert seen == []


def test_nan_infinity_returned_by_a_provider_fail_the_call() -> None:
    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            return {"choices": [{"logprob": -math.inf}]}

        with pytest.raises(ValueError, match=r"-Infinity is not JSON \(at \$\.choices\[0\]\.logprob\)"):
            await llm.execute("m", LLMRequest({}, {}), provider)

    arun(main)


def test_nan_infinity_in_tool_arguments_results_and_event_data() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=r"\(at \$\.x\)"):
            await tools.execute("t", {"x": math.nan}, lambda a: a)
        with pytest.raises(ValueError, match=r"Infinity is not JSON \(at \$\[1\]\)"):
            await tools.execute("t", {}, lambda a: [1, math.inf])

    arun(main)
    with pytest.raises(ValueError, match=r"\(at \$\.v\)"):
        scope.event("bad", data={"v": math.nan})


def test_nan_infinity_yielded_as_a_stream_chunk_fail_the_stream() -> None:
    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            yield {"delta": 1.0}
            yield {"delta": math.nan}

        stream = await llm.stream_execute("m", LLMRequest({}, {}), provider, None, None)
        got = []
        with pytest.raises(ValueError, match=r"NaN is not JSON \(at \$\.delta\)"):
            async for c in stream:
                got.append(c)
        assert got == [{"delta": 1.0}]

    arun(main)


# ---- event-order: one stack's events reach subscribers in emission order ------------------------


class _Names:
    """A global subscriber keeping the names of the marks it sees, in delivery order."""

    def __init__(self) -> None:
        self.c = Collector()

    def names(self) -> list[str]:
        return [e["name"] for e in self.c.events() if e.get("kind") == "mark"]

    def close(self) -> None:
        self.c.close()


def test_event_order_async_mark_sanitizer_nested_event_goes_before_later_ones() -> None:
    """The issue's case: the sanitizer suspends on ``outer``; ``later`` is emitted meanwhile; the
    sanitizer emits ``nested`` when released. The reference delivers outer, nested, later."""
    names = _Names()

    async def main() -> None:
        gate = asyncio.Event()

        async def sanitizer(event: Any, fields: Any) -> Any:
            if event.name == "outer":
                await gate.wait()
                scope.event("nested")
            return fields

        guardrails.register_mark_sanitize("order", 0, sanitizer)
        try:
            scope.event("outer")
            scope.event("later")
            await asyncio.sleep(0.01)
            gate.set()
            for _ in range(20):
                await asyncio.sleep(0.005)
        finally:
            guardrails.deregister_mark_sanitize("order")

    try:
        arun(main)
        assert names.names() == ["outer", "nested", "later"]
    finally:
        names.close()


def test_event_order_sync_mark_sanitizer_nested_event_follows_its_parent() -> None:
    names = _Names()

    def sanitizer(event: Any, fields: Any) -> Any:
        if event.name == "outer":
            scope.event("nested")
        return fields

    guardrails.register_mark_sanitize("order", 0, sanitizer)
    try:
        run_fresh(lambda: (scope.event("outer"), scope.event("later")))
        assert names.names() == ["outer", "nested", "later"]
    finally:
        guardrails.deregister_mark_sanitize("order")
        names.close()


def test_event_order_many_events_behind_sanitizers_that_suspend_at_random() -> None:
    names = _Names()

    async def main() -> None:
        async def sanitizer(event: Any, fields: Any) -> Any:
            n = int(event.name[1:])
            if n % 3 == 0:
                await asyncio.sleep(0.001 * (n % 5))
            if n % 7 == 0:
                scope.event(f"{event.name}.child")
            return fields

        guardrails.register_mark_sanitize("order", 0, sanitizer)
        try:
            for i in range(60):
                scope.event(f"e{i}")
                if i % 10 == 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(0.2)
        finally:
            guardrails.deregister_mark_sanitize("order")

    try:
        arun(main)
        expected: list[str] = []
        for i in range(60):
            expected.append(f"e{i}")
            if i % 7 == 0:
                expected.append(f"e{i}.child")
        assert names.names() == expected
    finally:
        names.close()


def test_event_order_a_sanitizer_awaiting_a_managed_call_on_its_stack_does_not_deadlock() -> None:
    """Events nested under a pending event wait for it; the call they start must not."""
    names = _Names()

    async def main() -> None:
        async def sanitizer(event: Any, fields: Any) -> Any:
            if event.name == "outer":
                await llm.execute("inner", LLMRequest({}, {}), lambda r: {"ok": True})
                scope.event("after-call")
            return fields

        guardrails.register_mark_sanitize("order", 0, sanitizer)
        try:
            scope.event("outer")
            scope.event("later")
            await asyncio.wait_for(subscribers.flush_async(), 10)
            for _ in range(20):
                await asyncio.sleep(0.005)
        finally:
            guardrails.deregister_mark_sanitize("order")

    try:
        arun(main)
        assert names.names() == ["outer", "after-call", "later"]
    finally:
        names.close()


def test_event_order_a_sanitizer_abandoned_with_its_closed_loop_does_not_block_its_stack() -> None:
    """A loop closed without cancelling its tasks destroys a pending sanitizer: its token is answered
    then, so the stack's later events (and managed calls waiting for their start event) go on."""
    names = _Names()

    async def suspend_forever(event: Any, fields: Any) -> Any:
        if event.name == "stuck":
            await asyncio.Event().wait()
        return fields

    async def first() -> None:
        scope.event("stuck")

    async def second() -> Any:
        scope.event("after")
        return await asyncio.wait_for(llm.execute("m", LLMRequest({}, {}), lambda r: {"ok": 1}), 10)

    def body() -> Any:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(first())
        loop.close()  # the pending sanitizer task is destroyed, not cancelled
        import gc

        gc.collect()
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(second())
        finally:
            loop.close()

    guardrails.register_mark_sanitize("stuck", 0, suspend_forever)
    try:
        assert run_fresh(body) == {"ok": 1}
        assert names.names() == ["stuck", "after"]
    finally:
        guardrails.deregister_mark_sanitize("stuck")
        names.close()


# ---- invalid-utf8 / lone-surrogates / nul-in-strings -------------------------------------------


def test_lone_surrogates_in_names_and_values_raise_and_the_runtime_goes_on(collector: Any) -> None:
    for bad in ("a\ud800", "\udc00z"):
        with pytest.raises(UnicodeEncodeError):  # a ValueError: no UTF-8 form exists
            scope.event(bad)
        with pytest.raises(UnicodeEncodeError):
            scope.event("ok", data={"s": bad})
        with pytest.raises(UnicodeEncodeError):
            scope.event("ok", data={bad: 1})
    scope.event("after", data={"pair": "\U0001f600"})
    assert [e["data"] for e in collector.events() if e["name"] == "after"] == [{"pair": "\U0001f600"}]


def test_nul_in_strings_names_refuse_it_values_round_trip(collector: Any) -> None:
    """The C API takes names NUL-terminated: "a\\0b" used to be recorded as "a"."""
    with pytest.raises(ValueError, match="embedded null character"):
        scope.event("a\0b")
    with pytest.raises(ValueError, match="embedded null character"):
        scope.push("x\0", nemo_relay.ScopeType.Agent)
    with pytest.raises(ValueError, match="embedded null character"):
        subscribers.register("s\0", lambda e: None)

    async def main() -> Any:
        return await llm.execute("m", LLMRequest({}, {"s": "a\0b"}), lambda r: {"echo": r.content["s"]})

    assert arun(main) == {"echo": "a\0b"}
    scope.event("nul", data={"s": "\0"})
    names = [e["name"] for e in collector.events()]
    assert "a" not in names and "x" not in names
    assert [e["data"] for e in collector.events() if e["name"] == "nul"] == [{"s": "\0"}]


def test_invalid_utf8_cannot_come_from_python_bytes_are_refused() -> None:
    """Python strings are always valid text (lone surrogates aside, above); raw bytes are not JSON.
    Invalid UTF-8 handed over by C is refused by the library (Tests/c/abi_test.c)."""
    with pytest.raises(ValueError, match="unsupported type bytes"):
        scope.event("b", data={"raw": b"\xff\xfe"})
    with pytest.raises(TypeError, match="^'bytes' object is not an instance of 'str'$"):
        scope.event(b"\xff")  # type: ignore[arg-type]

    async def main() -> Any:
        text = "caf\u00e9 \u65e5\u672c \U0001f600 \x01\x1f\x7f \u2028"
        return text, await llm.execute("m", LLMRequest({}, {"t": text}), lambda r: r.content["t"])

    sent, got = arun(main)
    assert got == sent


# ---- huge-numbers ------------------------------------------------------------------------------


def test_huge_numbers_64_bit_integers_are_exact_larger_ones_become_the_nearest_double() -> None:
    async def main() -> Any:
        content = {"u64": 2**64 - 1, "i64": -(2**63), "big": 2**100, "neg": -(2**70), "f": 1e308, "tiny": 5e-324}
        return await llm.execute("m", LLMRequest({}, content), lambda r: r.content)

    out = arun(main)
    assert out["u64"] == 2**64 - 1 and out["i64"] == -(2**63)
    # Beyond 64 bits: the nearest double, as the reference (serde_json) reads them (docs/events.md).
    assert out["big"] == float(2**100) and out["neg"] == float(-(2**70))
    assert out["f"] == 1e308 and out["tiny"] == 5e-324


# ---- deep-nesting ------------------------------------------------------------------------------


def _deep(n: int) -> Any:
    v: Any = 1
    for _ in range(n):
        v = [v]
    return v


def test_deep_nesting_round_trips_to_300_levels_deeper_raises_value_error() -> None:
    async def main() -> Any:
        return await llm.execute("m", LLMRequest({}, _deep(300)), lambda r: r.content)

    assert arun(main) == _deep(300)
    for n in (600, 100_000):
        with pytest.raises(ValueError, match="nesting too deep"):
            scope.event("deep", data=_deep(n))
        with pytest.raises(ValueError, match="nesting too deep"):
            LLMRequest({}, _deep(n))

    async def provider_returns_deep() -> Any:
        return await llm.execute("m", LLMRequest({}, {}), lambda r: _deep(100_000))

    with pytest.raises(ValueError, match="nesting too deep"):
        arun(provider_returns_deep)
    scope.event("still alive")


# ---- huge-payloads -----------------------------------------------------------------------------


def test_huge_payloads_100_mb_through_a_managed_call_and_a_subscriber_in_bounded_time_and_memory() -> None:
    r = run_child(
        """
        import asyncio, json, resource, time
        from nemo_relay import LLMRequest, llm, subscribers
        got = []
        subscribers.register("big", lambda e: got.append(len(e.to_json())))
        s = "x" * (100 * 1024 * 1024)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        t = time.monotonic()
        async def call():
            return await llm.execute("big", LLMRequest({}, {"s": s}), lambda r: {"n": len(r.content["s"])})
        out = asyncio.run(call())
        call = time.monotonic() - t
        t = time.monotonic()
        subscribers.flush()
        flush = time.monotonic() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"n": out["n"], "got": got, "call": call, "flush": flush, "before": before, "peak": peak}))
        """,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    o = __import__("json").loads(r.stdout.strip().splitlines()[-1])
    mb = 1024 * 1024
    assert o["n"] == 100 * mb
    assert max(o["got"]) > 100 * mb  # the start event carries the request
    assert o["call"] < 120 and o["flush"] < 60, o
    # A handful of linear copies (JSON text, the core's value, the provider's copy, the event line).
    assert o["peak"] - o["before"] < 12 * 100 * mb, o


# ---- base-exception: callbacks raising BaseException (or anything) ------------------------------


class _Boom(BaseException):
    pass


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit, _Boom])
def test_base_exception_from_a_provider_tool_or_guardrail_is_reraised_as_the_same_object(exc_type: Any) -> None:
    async def main() -> None:
        exc = exc_type("raised by the provider")
        with pytest.raises(exc_type) as got:
            await llm.execute("m", LLMRequest({}, {}), lambda r: (_ for _ in ()).throw(exc))
        assert got.value is exc

        async def tool(args: Any) -> Any:
            if exc_type in (KeyboardInterrupt, SystemExit):
                raise exc  # before suspending: in a task asyncio re-raises these out of the loop
            await asyncio.sleep(0)
            raise exc

        with pytest.raises(exc_type) as got:
            await tools.execute("t", {}, tool)
        assert got.value is exc

    arun(main)
    guard_exc = exc_type("guardrail")

    def guard(request: Any) -> Any:
        raise guard_exc

    guardrails.register_llm_conditional_execution("base-exc", 0, guard)
    try:

        async def guarded() -> None:
            with pytest.raises(exc_type) as got:
                await llm.execute("m", LLMRequest({}, {}), lambda r: 1)
            assert got.value is guard_exc

        arun(guarded)
    finally:
        guardrails.deregister_llm_conditional_execution("base-exc")


def test_base_exception_in_a_subscriber_or_sanitizer_loses_no_other_event(collector: Any) -> None:
    """A subscriber raising SystemExit used to end the delivery of the rest of its batch."""
    seen: list[str] = []

    def subscriber(e: Any) -> None:
        seen.append(e.name)
        if e.name == "b0":
            time.sleep(0.2)  # the next events pile up: they reach this subscriber as one batch
        if e.name == "b1":
            raise SystemExit(1)
        if e.name == "b3":
            raise KeyboardInterrupt

    def sanitizer(event: Any, fields: Any) -> Any:
        if event.name == "b2":
            raise _Boom("sanitizer")
        return fields

    subscribers.register("base-exc", subscriber)
    guardrails.register_mark_sanitize("base-exc", 0, sanitizer)
    try:

        def emit() -> None:
            for i in range(50):
                scope.event(f"b{i}")

        run_fresh(emit)
        subscribers.flush()
        assert seen == [f"b{i}" for i in range(50)]
        b2 = [e for e in collector.events() if e["name"] == "b2"]
        assert b2 and b2[0]["data"] is None  # a failing sanitizer blanks its event, nothing more
    finally:
        subscribers.deregister("base-exc")
        guardrails.deregister_mark_sanitize("base-exc")


# ---- re-entrancy: calls into the library from callbacks and subscribers -------------------------


def test_reentrancy_from_providers_sanitizers_subscribers_and_registrations(collector: Any) -> None:
    def subscriber(e: Any) -> None:
        if e.name == "outer-mark":
            scope.event("from-subscriber")
            subscribers.flush()  # on a delivery thread: returns at once instead of deadlocking

    async def sanitizer(event: Any, fields: Any) -> Any:
        if event.name == "outer-mark":
            await tools.execute("tool-in-sanitizer", {}, lambda a: {"ok": True})
            # Registering and deregistering middleware from inside a callback.
            guardrails.register_tool_conditional_execution("late", 0, lambda name, args: None)
            guardrails.deregister_tool_conditional_execution("late")
        return fields

    subscribers.register("reenter", subscriber)
    guardrails.register_mark_sanitize("reenter", 0, sanitizer)
    try:

        async def main() -> Any:
            async def provider(req: Any) -> Any:
                inner = await llm.execute("inner", LLMRequest({}, {}), lambda r: {"v": 1})
                scope.event("outer-mark")
                return {"inner": inner}

            return await asyncio.wait_for(llm.execute("outer", LLMRequest({}, {}), provider), 20)

        assert arun(main) == {"inner": {"v": 1}}
        deadline = time.monotonic() + 10
        names: list[str] = []
        while "from-subscriber" not in names and time.monotonic() < deadline:
            names = [e["name"] for e in collector.events()]
            time.sleep(0.01)
        for n in ("outer", "inner", "outer-mark", "tool-in-sanitizer", "from-subscriber"):
            assert n in names, n
    finally:
        subscribers.deregister("reenter")
        guardrails.deregister_mark_sanitize("reenter")


# ---- registration-in-flight --------------------------------------------------------------------


def test_registration_in_flight_a_pending_call_keeps_the_middleware_it_started_with() -> None:
    seen: list[str] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def old(name: str, request: Any, context: Any, next_: Any) -> Any:
            seen.append("old")
            await gate.wait()
            return await next_(request)

        async def new(name: str, request: Any, context: Any, next_: Any) -> Any:
            seen.append("new")
            return await next_(request)

        nemo_relay.intercepts.register_llm_execution("in-flight", 0, old)
        pending = asyncio.ensure_future(llm.execute("m", LLMRequest({}, {}), lambda r: {"ok": 1}))
        await asyncio.sleep(0.01)
        assert nemo_relay.intercepts.deregister_llm_execution("in-flight") is True
        nemo_relay.intercepts.register_llm_execution("in-flight", 0, new)
        gate.set()
        assert await asyncio.wait_for(pending, 10) == {"ok": 1}
        assert await llm.execute("m", LLMRequest({}, {}), lambda r: {"ok": 2}) == {"ok": 2}
        nemo_relay.intercepts.deregister_llm_execution("in-flight")

    arun(main)
    assert seen == ["old", "new"]


# ---- double-completion -------------------------------------------------------------------------


def test_double_completion_of_a_token_is_refused_and_the_call_goes_on(collector: Any) -> None:
    from nemo_relay import _ffi, _middleware
    from nemo_relay._runtime import lib

    results: list[int] = []

    def handler(token: int, doc: bytes) -> int:
        body = _json_request(doc)
        results.append(lib.nemo_relay_complete(token, _ffi.OK, body, len(body)))
        results.append(lib.nemo_relay_complete(token, _ffi.OK, body, len(body)))
        return _ffi.OK

    _middleware.register(None, _ffi.LLM_SANITIZE_REQUEST, "twice", 0, 0, handler)
    try:

        async def main() -> Any:
            return await llm.execute("m", LLMRequest({}, {"q": 1}), lambda r: r.content)

        assert arun(main) == {"q": 1}
        assert results == [_ffi.OK, _ffi.E_MISUSE]
    finally:
        guardrails.deregister_llm_sanitize_request("twice")


def _json_request(doc: bytes) -> bytes:
    import json

    return json.dumps(json.loads(doc)["request"]).encode()


# ---- shutdown-in-flight / process-exit: the interpreter ends in the middle of the work ----------


def test_shutdown_in_flight_interpreter_exit_with_pending_calls_and_streams_records_their_ends() -> None:
    r = run_child(
        """
        import atexit, asyncio, sys
        out = []
        # Registered before nemo_relay's own atexit shutdown, so it runs after it (LIFO).
        atexit.register(lambda: print(sorted(set(out)), flush=True))
        from nemo_relay import LLMRequest, llm, subscribers, tools
        subscribers.register("ends", lambda e: out.append((e.name, getattr(e, "scope_category", None))))
        async def forever(*a):
            await asyncio.Event().wait()
        async def gen(req):
            yield {"a": 1}
            await asyncio.Event().wait()
            yield {"b": 2}
        async def start():
            asyncio.ensure_future(llm.execute("pending-llm", LLMRequest({}, {}), forever))
            asyncio.ensure_future(tools.execute("pending-tool", {}, forever))
            await llm.stream_execute("pending-stream", LLMRequest({}, {}), gen, None, None)
            await asyncio.sleep(0.05)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(start())
        sys.exit(0)  # the loop is never closed: the runtime's atexit shutdown ends the calls
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    ends = r.stdout.strip().splitlines()[-1]
    for name in ("pending-llm", "pending-tool", "pending-stream"):
        assert f"('{name}', 'start')" in ends and f"('{name}', 'end')" in ends, ends


@pytest.mark.parametrize(
    ("where", "code", "status"),
    [
        ("provider-os-exit", "call(lambda r: os._exit(3))", 3),
        ("provider-sys-exit", "call(lambda r: sys.exit(3))", 3),
        ("provider-sys-exit-later", "async def p(r):\n    await asyncio.sleep(0.01)\n    sys.exit(3)\ncall(p)", 3),
        ("subscriber-os-exit", "subscribers.register('x', lambda e: os._exit(3)); scope.event('m'); time.sleep(30)", 3),
        ("sanitizer-os-exit", "subscribers.register('s', lambda e: None)\n"
         "guardrails.register_mark_sanitize('x', 0, lambda e, f: os._exit(3)); scope.event('m')", 3),
        ("flush-pending-os-exit", "subscribers.register('slow', lambda e: time.sleep(0.2))\n"
         "for i in range(100): scope.event(f'm{i}')\nos._exit(3)", 3),
        # An uncaught KeyboardInterrupt ends CPython by SIGINT, as Ctrl-C would.
        ("keyboard-interrupt-in-provider", "call(lambda r: (_ for _ in ()).throw(KeyboardInterrupt()))", -2),
    ],
)
def test_process_exit_in_the_middle_of_the_work_never_hangs(where: str, code: str, status: int) -> None:
    r = run_child(
        "import asyncio, os, sys, time\n"
        "from nemo_relay import LLMRequest, guardrails, llm, scope, subscribers\n"
        "def call(provider):\n"
        "    async def main():\n"
        "        return await llm.execute('m', LLMRequest({}, {}), provider)\n"
        "    return asyncio.run(main())\n" + code,
        timeout=60,
    )
    assert r.returncode == status, (where, r.returncode, r.stderr[-2000:])


# ---- loop-per-test: sequences of event loops, as pytest-asyncio runs them (issue 13 #8) ----------


def test_loop_per_test_sanitizer_flushes_then_a_stream_never_deadlock() -> None:
    """The issue's sequence, in a child with a watchdog (a regression fails instead of hanging):
    each "test" gets a new event loop (asyncio.run, a Runner, or a loop closed without cancelling
    its tasks) and a subscriber registered for it and deregistered after it; test A registers async
    request and response sanitizers that flush (flush_async, or the blocking flush in a worker
    thread) around a manual llm.call/llm.call_end, test B streams with an async response
    sanitizer that flushes."""
    r = run_child(
        """
        import asyncio, faulthandler, sys
        faulthandler.dump_traceback_later(100, exit=True)
        from nemo_relay import LLMRequest, guardrails, llm, scope, subscribers

        def flusher(kind):
            async def san(value, ctx=None):
                if kind == "async":
                    await subscribers.flush_async()
                else:
                    await asyncio.to_thread(subscribers.flush)
                return value
            return san

        async def test_a(kind):
            guardrails.register_llm_sanitize_request("rq", 0, flusher(kind))
            guardrails.register_llm_sanitize_response("rs", 0, flusher(kind))
            try:
                h = llm.call("manual", LLMRequest({}, {"messages": []}))
                scope.event("between")
                llm.call_end(h, {"ok": 1})
            finally:
                guardrails.deregister_llm_sanitize_request("rq")
                guardrails.deregister_llm_sanitize_response("rs")

        async def test_b(kind):
            guardrails.register_llm_sanitize_response("rs2", 0, flusher(kind))
            async def provider(request):
                yield {"a": 1}
                yield {"b": 2}
            try:
                stream = await llm.stream_execute("streamed", LLMRequest({}, {}), provider, lambda c: None, lambda: {"done": 1})
                async for _ in stream:
                    pass
            finally:
                guardrails.deregister_llm_sanitize_response("rs2")

        def run_in(style, coro):
            if style == "run":
                asyncio.run(coro)
            elif style == "runner":
                with asyncio.Runner() as r:
                    r.run(coro)
            else:  # closed without cancelling what is still pending
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(coro)
                finally:
                    loop.close()

        n = 0
        for rnd in range(6):
            for style in ("run", "runner", "close"):
                for kind in ("async", "thread"):
                    for test in (test_a, test_b):
                        name = f"collector-{n}"
                        subscribers.register(name, lambda e: None)
                        run_in(style, test(kind))
                        subscribers.flush()
                        subscribers.deregister(name)
                        n += 1
        print("ran", n, flush=True)
        """,
        timeout=150,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stdout.strip().endswith("ran 72"), r.stdout
