# SPDX-License-Identifier: Apache-2.0
"""Failure identity (docs/abi.md, "Errors"): each call re-raises the very exception object its own
callback raised, found by the id the failure carries, never by its text."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import pytest

from nemo_relay import LLMRequest, ToolExecutionResult, intercepts, llm, scope, tools
from nemo_relay import _runtime
from conftest import arun

N = 1000


class Boom(Exception):
    """Every instance has the same text; ``n`` tells them apart."""

    def __init__(self, n: int) -> None:
        super().__init__("the same text for everyone")
        self.n = n


def _table_drains() -> None:
    """Every failure id was taken or released: the binding's table is empty again."""
    deadline = time.monotonic() + 10
    while _runtime._failures and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert _runtime._failures == {}


async def _gather_failures(start: Any) -> list[BaseException]:
    out = await asyncio.gather(*(start(i) for i in range(N)), return_exceptions=True)
    return list(out)


def _check_own(results: list[Any], raised: dict[int, BaseException]) -> None:
    assert len(raised) == N
    for i, r in enumerate(results):
        assert isinstance(r, Boom), r
        assert r.n == i and r is raised[i]


def test_concurrent_llm_calls_failing_with_the_same_text_each_get_their_own_exception() -> None:
    raised: dict[int, BaseException] = {}

    def provider_for(i: int) -> Any:
        async def provider(req: LLMRequest) -> Any:
            await asyncio.sleep(0.001 * (i % 7))  # finish in another order than started
            e = raised[i] = Boom(i)
            raise e

        return provider

    async def main() -> list[Any]:
        return await _gather_failures(lambda i: llm.execute("p", LLMRequest({}, {"i": i}), provider_for(i)))

    _check_own(arun(main), raised)
    _table_drains()


def test_concurrent_tool_calls_failing_with_the_same_text_each_get_their_own_exception() -> None:
    raised: dict[int, BaseException] = {}

    def tool_for(i: int) -> Any:
        def tool(args: Any) -> Any:  # fails at once, inside the C call
            e = raised[i] = Boom(i)
            raise e

        return tool

    async def main() -> list[Any]:
        return await _gather_failures(lambda i: tools.execute("t", {"i": i}, tool_for(i)))

    _check_own(arun(main), raised)
    _table_drains()


def test_failures_on_many_threads_stay_with_their_callers() -> None:
    raised: dict[int, BaseException] = {}
    got: dict[int, BaseException] = {}

    def worker(base: int) -> None:
        async def one(i: int) -> None:
            async def provider(req: LLMRequest) -> Any:
                await asyncio.sleep(0)
                e = raised[i] = Boom(i)
                raise e

            try:
                await llm.execute("p", LLMRequest({}, {}), provider)
            except Boom as e:
                got[i] = e

        async def main() -> None:
            await asyncio.gather(*(one(base + k) for k in range(125)))

        arun(main)

    threads = [threading.Thread(target=worker, args=(t * 125,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == N
    assert all(got[i] is raised[i] and got[i].n == i for i in range(N))
    _table_drains()


def test_an_intercept_that_re_raises_passes_the_providers_own_object() -> None:
    raised: dict[int, BaseException] = {}
    seen: dict[int, BaseException] = {}

    async def relay(name: str, request: LLMRequest, context: Any, nxt: Any) -> Any:
        i = request.content["i"]
        try:
            return await nxt(request)
        except Boom as e:
            seen[i] = e
            raise

    def provider_for(i: int) -> Any:
        async def provider(req: LLMRequest) -> Any:
            await asyncio.sleep(0)
            e = raised[i] = Boom(i)
            raise e

        return provider

    async def main() -> list[Any]:
        return await _gather_failures(lambda i: llm.execute("p", LLMRequest({}, {"i": i}), provider_for(i)))

    intercepts.register_llm_execution("relay", 1, relay)
    try:
        results = arun(main)
    finally:
        intercepts.deregister_llm_execution("relay")
    _check_own(results, raised)
    assert all(seen[i] is raised[i] for i in range(N))
    _table_drains()


def test_an_intercept_raising_its_own_exception_wins_and_a_swallowed_failure_is_released() -> None:
    class Outer(Exception):
        pass

    async def replace(tool_name: str, args: Any, nxt: Any) -> Any:
        try:
            await nxt(args)
        except Boom as e:
            if args["i"] % 2:
                return ToolExecutionResult({"recovered": e.n})  # the inner failure reaches nobody
            raise Outer("the same text for everyone") from e
        raise AssertionError("the tool fails")

    def tool_for(i: int) -> Any:
        def tool(args: Any) -> Any:
            raise Boom(i)

        return tool

    async def main() -> list[Any]:
        return list(
            await asyncio.gather(
                *(tools.execute("t", {"i": i}, tool_for(i)) for i in range(200)), return_exceptions=True
            )
        )

    intercepts.register_tool_execution("replace", 1, replace)
    try:
        results = arun(main)
    finally:
        intercepts.deregister_tool_execution("replace")
    for i, r in enumerate(results):
        if i % 2:
            assert r.result == {"recovered": i}
        else:
            assert type(r) is Outer and r.__cause__.n == i
    _table_drains()


def test_concurrent_streams_failing_with_the_same_text_each_get_their_own_exception() -> None:
    raised: dict[int, BaseException] = {}
    count = 200

    def provider_for(i: int) -> Any:
        async def provider(req: LLMRequest) -> Any:
            yield {"delta": i}
            await asyncio.sleep(0)
            e = raised[i] = Boom(i)
            raise e

        return provider

    async def consume(i: int) -> Any:
        stream = await llm.stream_execute("s", LLMRequest({}, {}), provider_for(i), None, None)
        chunks = []
        try:
            async for c in stream:
                chunks.append(c)
        except Boom as e:
            assert chunks == [{"delta": i}]
            return e
        raise AssertionError("the stream fails")

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(consume(i) for i in range(count))))

    results = arun(main)
    assert all(results[i] is raised[i] for i in range(count))
    _table_drains()


def test_ten_thousand_failures_leave_no_entry_behind() -> None:
    async def main() -> None:
        for i in range(10_000):
            with pytest.raises(Boom):
                await tools.execute("t", {}, lambda a: (_ for _ in ()).throw(Boom(i)))

    arun(main)
    _table_drains()


def test_a_failing_stream_collectors_own_exception_reaches_the_consumer() -> None:
    raised: dict[int, BaseException] = {}
    count = 50

    def collector_for(i: int) -> Any:
        def collect(chunk: Any) -> None:
            e = raised[i] = Boom(i)
            raise e

        return collect

    async def consume(i: int) -> Any:
        async def provider(req: LLMRequest) -> Any:
            yield {"delta": i}

        try:
            stream = await llm.stream_execute("s", LLMRequest({}, {}), provider, collector_for(i), None)
            async for _ in stream:
                pass
        except Boom as e:
            return e
        raise AssertionError("the stream ends cleanly")

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(consume(i) for i in range(count))))

    results = arun(main)
    assert all(results[i] is raised[i] for i in range(count))
    _table_drains()


def test_a_nested_calls_failure_passes_through_the_outer_call_as_itself() -> None:
    raised: dict[int, BaseException] = {}

    def provider_for(i: int) -> Any:
        async def provider(req: LLMRequest) -> Any:
            def tool(args: Any) -> Any:
                e = raised[i] = Boom(i)
                raise e

            return await tools.execute("inner", {"i": i}, tool)  # not caught: the outer call fails with it

        return provider

    async def main() -> list[Any]:
        return await _gather_failures(lambda i: llm.execute("outer", LLMRequest({}, {"i": i}), provider_for(i)))

    _check_own(arun(main), raised)
    _table_drains()
