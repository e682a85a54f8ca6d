# SPDX-License-Identifier: Apache-2.0
"""llm.stream_execute, LlmStream and stream execution intercepts (docs/pipeline.md).

One test per row of docs/pipeline.md, "Stream outcome table", asserting the consumer's view and the events
(start, one ``llm.chunk`` mark per chunk with its summary, the end event). No timed assertions:
waits are on events the provider or the consumer sets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from typing import Any

import pytest
from conftest import Collector, arun

import nemo_relay
from nemo_relay import LLMAttributes, LLMRequest, LlmStream, ScopeType
from nemo_relay.typed import DataclassCodec, JsonPassthrough

llm, intercepts, scope = nemo_relay.llm, nemo_relay.intercepts, nemo_relay.scope


def req(text: str = "hi") -> LLMRequest:
    return LLMRequest({}, {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": text}]})


def chat_chunk(text: str | None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "object": "chat.completion.chunk",
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}],
    }
    if usage is not None:
        c["usage"] = usage
    return c


CHUNKS = [
    chat_chunk("Hel"),
    chat_chunk("lo"),
    chat_chunk(None, "stop", {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
]

#: The llm.chunk summaries of CHUNKS (docs/pipeline.md, "llm.chunk data").
SUMMARIES = [
    {
        "chunk_index": 0,
        "provider": "openai_chat_completions",
        "event_type": "chat.completion.chunk",
        "choice_indices": [0],
    },
    {
        "chunk_index": 1,
        "provider": "openai_chat_completions",
        "event_type": "chat.completion.chunk",
        "choice_indices": [0],
    },
    {
        "chunk_index": 2,
        "provider": "openai_chat_completions",
        "event_type": "chat.completion.chunk",
        "choice_indices": [0],
        "finish_reasons": [{"choice_index": 0, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    },
]


def text_of(chunks: list[Any]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def run(body: Any) -> list[dict[str, Any]]:
    """Runs ``body`` (a coroutine function) in a fresh context; returns the events of the call."""
    c = Collector()
    try:
        arun(body)
        events = c.events()
    finally:
        c.close()
    return events


def call_events(events: list[dict[str, Any]], name: str = "prov") -> tuple[dict, list[dict], dict | None]:
    """(start, chunk marks, end) of the one LLM call named ``name``."""
    starts = [e for e in events if e["name"] == name and e.get("scope_category") == "start"]
    assert len(starts) == 1, events
    start = starts[0]
    marks = [e for e in events if e["name"] == "llm.chunk" and e["parent_uuid"] == start["uuid"]]
    ends = [e for e in events if e["name"] == name and e.get("scope_category") == "end"]
    assert len(ends) <= 1
    return start, marks, ends[0] if ends else None


def assert_marks(marks: list[dict], summaries: list[dict]) -> None:
    assert [m["data"] for m in marks] == summaries
    assert all(m["kind"] == "mark" and m["category"] is None for m in marks)


# ---- the outcome table (docs/pipeline.md, "Stream outcome table") -------------------------------


def test_normal_completion() -> None:
    seen: list[Any] = []
    got: list[Any] = []

    async def provider(r: LLMRequest) -> Any:
        assert "traceparent" in r.headers
        for c in CHUNKS:
            yield c

    text: list[str] = []

    def collect(chunk: Any) -> None:
        seen.append(chunk)
        text.append(text_of([chunk]))
        chunk["choices"] = "mutated by the collector"  # a copy: the consumer is unaffected

    def finalize() -> Any:
        return {"text": "".join(text), "chunks": len(seen)}

    async def body() -> None:
        fut = llm.stream_execute("prov", req(), provider, collect, finalize, model_name="gpt-4o", data={"h": 1})
        assert isinstance(fut, asyncio.Future)
        stream = await fut
        assert isinstance(stream, LlmStream)
        assert await stream is stream
        async for c in stream:
            got.append(c)
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()

    events = run(body)
    assert got == CHUNKS
    assert len(seen) == 3 and all(s["choices"] == "mutated by the collector" for s in seen)
    start, marks, end = call_events(events)
    assert start["category"] == "llm" and start["attributes"] == []  # STREAMING is not added
    assert start["category_profile"]["model_name"] == "gpt-4o"
    assert_marks(marks, SUMMARIES)
    assert end is not None
    assert end["metadata"] == {"otel.status_code": "OK"}
    assert end["data"] == {"text": "Hello", "chunks": 3}
    assert isinstance(end["category_profile"]["time_to_first_chunk"], float)
    order = [e["name"] for e in events if e["name"] in ("prov", "llm.chunk")]
    assert order == ["prov", "llm.chunk", "llm.chunk", "llm.chunk", "prov"]


def test_finalizer_raises(caplog: pytest.LogCaptureFixture) -> None:
    got: list[Any] = []

    async def provider(r: LLMRequest) -> Any:
        for c in CHUNKS:
            yield c

    def finalize() -> Any:
        raise ValueError("finalizer exploded")

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, None, finalize, data={"h": 1})
        got.extend([c async for c in stream])

    events = run(body)
    assert got == CHUNKS
    _start, marks, end = call_events(events)
    assert_marks(marks, SUMMARIES)
    assert end is not None and end["metadata"] == {"otel.status_code": "OK"}
    assert end["data"] is None
    assert "time_to_first_chunk" in end["category_profile"]
    assert any("finalizer exploded" in r.getMessage() for r in caplog.records)  # the error is logged


@pytest.mark.parametrize("final", [{"partial": "Hel"}, None])
def test_provider_raises_mid_stream(final: Any) -> None:
    err = ConnectionError("upstream reset")
    got: list[Any] = []
    finalized: list[int] = []

    async def provider(r: LLMRequest) -> Any:
        yield CHUNKS[0]
        yield CHUNKS[1]
        raise err

    def finalize() -> Any:
        finalized.append(len(got))
        return final

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, None, finalize, data={"h": 1})
        with pytest.raises(ConnectionError) as info:
            async for c in stream:
                got.append(c)
        assert info.value is err
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()

    events = run(body)
    assert got == CHUNKS[:2]
    assert len(finalized) == 1
    _start, marks, end = call_events(events)
    assert_marks(marks, SUMMARIES[:2])
    assert end is not None
    md = end["metadata"]
    assert md["otel.status_code"] == "ERROR"
    assert md["exception.type"] == "ConnectionError"
    assert "upstream reset" in md["otel.status_description"]
    assert end["data"] == (final if final is not None else {"h": 1})
    assert "time_to_first_chunk" in end["category_profile"]


def test_collector_raises() -> None:
    err = KeyError("bad chunk")
    got: list[Any] = []
    finalized: list[bool] = []

    async def provider(r: LLMRequest) -> Any:
        for c in CHUNKS:
            yield c

    def collect(chunk: Any) -> None:
        if chunk.get("usage"):
            raise err

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, collect, lambda: finalized.append(True))
        with pytest.raises(KeyError) as info:
            async for c in stream:
                got.append(c)
        assert info.value is err

    events = run(body)
    assert got == CHUNKS[:2]  # the failing chunk is not delivered
    assert finalized == [True]
    _start, marks, end = call_events(events)
    assert_marks(marks, SUMMARIES[:2])
    assert end is not None
    assert end["metadata"]["otel.status_code"] == "ERROR"
    assert end["metadata"]["exception.type"] == "KeyError"
    assert end["data"] is None  # the finalizer returned None and there is no handle data


@pytest.mark.parametrize("drop", [False, True])
def test_consumer_stops_reading_without_closing(drop: bool) -> None:
    more = CHUNKS + [chat_chunk("!")]
    got: list[Any] = []

    async def body() -> None:
        finished = asyncio.Event()

        async def provider(r: LLMRequest) -> Any:
            for c in more:
                yield c
            finished.set()

        stream = await llm.stream_execute("prov", req(), provider, None, lambda: {"done": True})
        got.append(await stream.__anext__())
        if drop:
            del stream
            gc.collect()
        await finished.wait()
        for _ in range(3):  # let the driver task finish its last step
            await asyncio.sleep(0)

    events = run(body)
    assert got == more[:1]
    _start, marks, end = call_events(events)
    assert len(marks) == 4
    assert end is not None
    assert end["metadata"] == {"otel.status_code": "OK"}
    assert end["data"] == {"done": True}


def test_consumer_closes_early() -> None:
    got: list[Any] = []
    log: list[str] = []

    async def body() -> None:
        async def provider(r: LLMRequest) -> Any:
            try:
                yield CHUNKS[0]
                yield CHUNKS[1]
                await asyncio.Event().wait()  # never set: only cancellation ends it
                yield CHUNKS[2]
            except BaseException as e:
                log.append(type(e).__name__)
                raise
            finally:
                log.append("finally")

        def finalize() -> Any:
            log.append("finalizer")
            return {"partial": text_of(got)}

        stream = await llm.stream_execute("prov", req(), provider, None, finalize, data={"h": 1})
        async for c in stream:
            got.append(c)
            if len(got) == 2:
                break
        await stream.aclose()
        assert log[0] == "finalizer" and "finally" in log
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        await stream.aclose()  # idempotent

    events = run(body)
    assert got == CHUNKS[:2]
    assert log.count("finalizer") == 1 and "CancelledError" in log
    _start, marks, end = call_events(events)
    assert_marks(marks, SUMMARIES[:2])
    assert end is not None
    md = end["metadata"]
    assert md["otel.status_code"] == "ERROR"
    assert md["otel.status_description"] == "stream dropped before clean completion"
    assert md["nemo_relay.stream.end_reason"] == "consumer_closed"
    assert end["data"] == {"partial": "Hello"}


def test_close_while_the_provider_waits_for_the_consumer() -> None:
    """Past the library's buffer the provider waits (NEMO_RELAY_E_FULL); closing cancels that wait."""
    log: list[str] = []

    async def body() -> None:
        async def provider(r: LLMRequest) -> Any:
            try:
                for i in range(5000):
                    yield {"i": i}
            finally:
                log.append("finally")

        stream = await llm.stream_execute("prov", req(), provider, None, None)
        assert await stream.__anext__() == {"i": 0}
        for _ in range(3):
            await asyncio.sleep(0)
        await stream.aclose()
        assert log == ["finally"]

    events = run(body)
    _start, marks, end = call_events(events)
    assert 1 <= len(marks) < 5000
    assert end is not None and end["metadata"]["nemo_relay.stream.end_reason"] == "consumer_closed"


def test_no_chunks() -> None:
    async def provider(r: LLMRequest) -> Any:
        return
        yield  # an empty async generator

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, lambda c: None, lambda: None, data={"h": 1})
        assert [c async for c in stream] == []

    events = run(body)
    _start, marks, end = call_events(events)
    assert marks == []
    assert end is not None
    assert end["metadata"] == {"otel.status_code": "OK"}
    assert end["data"] == {"h": 1}
    assert "time_to_first_chunk" not in (end["category_profile"] or {})


# ---- argument and provider contracts ------------------------------------------------------------


@pytest.mark.parametrize(
    "make, type_name",
    [(lambda r: [1, 2], "list"), (lambda r: iter([1]), "list_iterator"), (lambda r: {"a": 1}, "dict")],
)
def test_provider_must_return_an_async_iterator(make: Any, type_name: str) -> None:
    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), make, None, None)
        with pytest.raises(TypeError, match=f"^expected an asynchronous iterator, got '{type_name}'.$"):
            await stream.__anext__()

    events = run(body)
    _start, _marks, end = call_events(events)
    assert end is not None and end["metadata"]["exception.type"] == "TypeError"


def test_async_collector_and_finalizer_are_rejected() -> None:
    async def provider(r: LLMRequest) -> Any:
        yield {}

    async def acollect(c: Any) -> None:
        pass

    async def afinal() -> Any:
        return 1

    async def body() -> None:
        with pytest.raises(TypeError, match="collector must be a synchronous function"):
            llm.stream_execute("prov", req(), provider, acollect, None)
        with pytest.raises(TypeError, match="finalizer must be a synchronous function"):
            llm.stream_execute("prov", req(), provider, None, afinal)
        # A sync callable that returns an awaitable anyway fails the stream instead of being dropped.
        stream = await llm.stream_execute("prov", req(), provider, lambda c: acollect(c), None)
        with pytest.raises(TypeError, match="collector must be synchronous, but it returned an awaitable"):
            await stream.__anext__()

    events = run(body)
    _start, _marks, end = call_events(events)  # only the third call started
    assert end is not None and end["metadata"]["exception.type"] == "TypeError"


def test_future_is_not_iterable_and_needs_a_loop() -> None:
    async def provider(r: LLMRequest) -> Any:
        yield {}

    with pytest.raises(RuntimeError, match="^no running event loop$"):
        llm.stream_execute("prov", req(), provider, None, None)

    async def body() -> None:
        fut = llm.stream_execute("prov", req(), provider, None, None)
        with pytest.raises(TypeError):
            async for _ in fut:  # type: ignore[attr-defined]
                pass
        assert [c async for c in await fut] == [{}]

    run(body)


def test_guardrail_rejection_fails_the_future() -> None:
    nemo_relay.guardrails.register_llm_conditional_execution("no-streams", 1, lambda r: "no streams today")
    called: list[bool] = []
    try:

        async def provider(r: LLMRequest) -> Any:
            called.append(True)
            yield {}

        async def body() -> None:
            with pytest.raises(nemo_relay.GuardrailRejectedError, match="^guardrail rejected: no streams today$"):
                await llm.stream_execute("prov", req(), provider, None, lambda: called.append(False))

        events = run(body)
    finally:
        nemo_relay.guardrails.deregister_llm_conditional_execution("no-streams")
    assert called == []
    prov = [e for e in events if e["name"] == "prov"]
    assert [e["kind"] for e in prov] == ["mark"]  # the rejection mark; no LLM events
    assert prov[0]["data"] == {"rejected": True, "rejection_reason": "no streams today"}


def test_cancelling_the_future_before_the_start_cancels_the_call() -> None:
    called: list[str] = []

    async def body() -> None:
        gate = asyncio.Event()

        async def slow_guardrail(r: LLMRequest) -> None:
            called.append("guardrail")
            await gate.wait()

        async def provider(r: LLMRequest) -> Any:
            called.append("provider")
            yield {}

        nemo_relay.guardrails.register_llm_conditional_execution("slow", 1, slow_guardrail)
        try:
            fut = llm.stream_execute("prov", req(), provider, None, lambda: called.append("finalizer"))
            await asyncio.sleep(0)
            assert not fut.done()
            fut.cancel()
            gate.set()
            with pytest.raises(asyncio.CancelledError):
                await fut
            for _ in range(3):
                await asyncio.sleep(0)
        finally:
            nemo_relay.guardrails.deregister_llm_conditional_execution("slow")

    events = run(body)
    assert "provider" not in called
    assert not [e for e in events if e["name"] == "prov" and e["kind"] == "scope"]


def test_back_pressure_keeps_every_chunk_in_order() -> None:
    """More chunks than the library buffers: the provider waits for the consumer, nothing is lost."""
    n = 3000
    seen: list[int] = []

    async def provider(r: LLMRequest) -> Any:
        for i in range(n):
            yield {"i": i}

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, lambda c: seen.append(c["i"]), None)
        got = []
        async for c in stream:
            got.append(c["i"])
            if len(got) % 500 == 0:
                for _ in range(5):
                    await asyncio.sleep(0)
        assert got == list(range(n))

    events = run(body)
    assert seen == list(range(n))
    _start, marks, end = call_events(events)
    assert len(marks) == n and end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_streaming_attribute_and_explicit_parent() -> None:
    async def provider(r: LLMRequest) -> Any:
        yield {"type": "message_stop"}

    async def body() -> None:
        with scope.scope("agent", ScopeType.Agent) as agent:
            pass
        stream = await llm.stream_execute(
            "prov", req(), provider, None, None, handle=agent, attributes=LLMAttributes(LLMAttributes.STREAMING)
        )
        assert [c async for c in stream] == [{"type": "message_stop"}]

    events = run(body)
    agent = next(e for e in events if e["name"] == "agent")
    start, marks, _end = call_events(events)
    assert start["attributes"] == ["streaming"] and start["parent_uuid"] == agent["uuid"]
    assert_marks(marks, [{"chunk_index": 0, "provider": "anthropic_messages", "event_type": "message_stop"}])


# ---- stream execution intercepts ----------------------------------------------------------------


def test_stream_intercept_transforms_the_inner_stream() -> None:
    calls: list[Any] = []

    async def upper(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        calls.append((name, context.response_codec, request.content["messages"][0]["content"]))
        request = LLMRequest(
            request.headers, {**request.content, "messages": [{"role": "user", "content": "rewritten"}]}
        )
        inner = await next(request)
        assert isinstance(inner, LlmStream)
        async for c in inner:
            yield {"wrapped": c}
        yield {"wrapped": "tail"}

    def legacy(request: LLMRequest, next: Any) -> Any:  # docs/python.md, "Legacy callback forms", #10
        calls.append(("legacy", request.content["messages"][0]["content"]))

        async def gen() -> Any:
            async for c in await next(request):
                yield {"legacy": c}

        return gen()

    def non_streaming(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        calls.append("non-streaming execution intercept")  # does not apply to streams
        return next(request)

    async def provider(r: LLMRequest) -> Any:
        calls.append(("provider", r.content["messages"][0]["content"]))
        yield {"n": 1}
        yield {"n": 2}

    intercepts.register_llm_stream_execution("upper", 1, upper)
    intercepts.register_llm_stream_execution("legacy", 2, legacy)
    intercepts.register_llm_execution("plain", 1, non_streaming)
    got: list[Any] = []
    try:

        async def body() -> None:
            stream = await llm.stream_execute("prov", req("original"), provider, None, None)
            got.extend([c async for c in stream])

        events = run(body)
    finally:
        assert intercepts.deregister_llm_stream_execution("upper")
        assert intercepts.deregister_llm_stream_execution("legacy")
        assert intercepts.deregister_llm_execution("plain")
        assert not intercepts.deregister_llm_stream_execution("upper")
    assert calls == [("prov", None, "original"), ("legacy", "rewritten"), ("provider", "rewritten")]
    assert got == [{"wrapped": {"legacy": {"n": 1}}}, {"wrapped": {"legacy": {"n": 2}}}, {"wrapped": "tail"}]
    _start, marks, end = call_events(events)
    assert [m["data"]["chunk_index"] for m in marks] == [0, 1, 2]  # observed as they leave the onion
    assert end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_stream_intercept_short_circuits_and_propagates() -> None:
    err = RuntimeError("provider failed")

    async def cached(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        if request.content["messages"][0]["content"] == "cached":
            yield {"from": "cache"}
            return
        async for c in await next(request):
            yield c

    async def provider(r: LLMRequest) -> Any:
        if r.content["messages"][0]["content"] == "cached":
            raise AssertionError("the provider must not run")
        yield {"from": "provider"}
        raise err

    intercepts.register_llm_stream_execution("cached", 1, cached)
    try:

        async def body() -> None:
            stream = await llm.stream_execute("prov", req("cached"), provider, None, None)
            assert [c async for c in stream] == [{"from": "cache"}]
            stream = await llm.stream_execute("prov", req("live"), provider, None, None)
            got = []
            with pytest.raises(RuntimeError) as info:
                async for c in stream:
                    got.append(c)
            assert info.value is err and got == [{"from": "provider"}]

        run(body)
    finally:
        intercepts.deregister_llm_stream_execution("cached")


def test_close_cancels_every_layer() -> None:
    log: list[str] = []

    async def passthrough(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        try:
            async for c in await next(request):
                yield c
        finally:
            log.append("intercept closed")

    async def provider(r: LLMRequest) -> Any:
        try:
            yield {"n": 1}
            await asyncio.Event().wait()
        finally:
            log.append("provider closed")

    intercepts.register_llm_stream_execution("pass", 1, passthrough)
    try:

        async def body() -> None:
            stream = await llm.stream_execute("prov", req(), provider, None, lambda: {"closed": True})
            assert await stream.__anext__() == {"n": 1}
            await stream.aclose()
            assert sorted(log) == ["intercept closed", "provider closed"]

        events = run(body)
    finally:
        intercepts.deregister_llm_stream_execution("pass")
    _start, _marks, end = call_events(events)
    assert end is not None and end["metadata"]["otel.status_code"] == "ERROR"
    assert end["data"] == {"closed": True}


def test_scope_local_stream_intercept() -> None:
    async def provider(r: LLMRequest) -> Any:
        yield {"n": 1}

    async def tag(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        async for c in await next(request):
            yield {**c, "tagged": True}

    async def body() -> None:
        with scope.scope("agent", ScopeType.Agent) as agent:
            nemo_relay.scope_local.register_llm_stream_execution(agent, "tag", 1, tag)
            assert [c async for c in await llm.stream_execute("prov", req(), provider, None, None)] == [
                {"n": 1, "tagged": True}
            ]
        assert [c async for c in await llm.stream_execute("prov", req(), provider, None, None)] == [{"n": 1}]

    run(body)


# ---- transforming stream intercepts (docs/pipeline.md, "Transforming stream intercepts") ---------


def upper(c: dict[str, Any]) -> dict[str, Any]:
    return chat_chunk(c["choices"][0]["delta"]["content"].upper())


def transform_call(
    regs: list[tuple[str, int, Any]], provider: Any, consume: Any = None
) -> tuple[list[Any], list[Any], Any, list[dict[str, Any]]]:
    """Runs one streaming call with the given stream intercepts; returns (consumer chunks, collected
    chunks, the exception the consumer got or None, the call's events)."""
    got: list[Any] = []
    collected: list[Any] = []
    failure: list[Any] = [None]
    for name, priority, fn in regs:
        intercepts.register_llm_stream_execution(name, priority, fn)
    try:

        async def body() -> None:
            stream = await llm.stream_execute("prov", req(), provider, collected.append, lambda: {"n": len(collected)})
            try:
                if consume is not None:
                    await consume(stream, got)
                else:
                    async for c in stream:
                        got.append(c)
            except Exception as e:  # noqa: BLE001 - returned to the test
                failure[0] = e

        events = run(body)
    finally:
        for name, _priority, _fn in regs:
            assert intercepts.deregister_llm_stream_execution(name)
    return got, collected, failure[0], events


async def letters(r: LLMRequest) -> Any:
    for t in ("a", "b", "c", "d"):
        yield chat_chunk(t)


def test_stream_intercept_upper_cases_each_inner_chunk() -> None:
    async def shout(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        async for c in await next(request):
            yield upper(c)

    got, collected, failure, events = transform_call([("shout", 1, shout)], letters)
    assert failure is None and text_of(got) == "ABCD" and collected == got
    _start, marks, end = call_events(events)
    assert len(marks) == 4  # the marks describe what left the intercept
    assert end is not None and end["metadata"] == {"otel.status_code": "OK"} and end["data"] == {"n": 4}


def test_stream_intercept_drops_chunks_and_adds_one() -> None:
    async def thin(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        n = 0
        async for c in await next(request):
            if n % 2 == 0:
                yield c
            n += 1
        yield {"type": "summary", "count": n}

    got, collected, failure, events = transform_call([("thin", 1, thin)], letters)
    assert failure is None and text_of(got) == "ac" and got[-1] == {"type": "summary", "count": 4}
    assert collected == got
    _start, marks, end = call_events(events)
    assert [m["data"]["provider"] for m in marks] == ["openai_chat_completions"] * 2 + ["unknown"]
    assert end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_stream_intercept_stops_reading_early() -> None:
    log: list[str] = []

    async def endless(r: LLMRequest) -> Any:
        try:
            i = 0
            while True:
                yield chat_chunk(str(i))
                i += 1
                await asyncio.sleep(0)
        finally:
            log.append("provider closed")

    async def first_only(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        inner = await next(request)
        async for c in inner:
            yield upper(c)
            break
        await inner.aclose()
        log.append("inner closed")  # the inner provider was cancelled and finished before aclose returned
        yield {"type": "stopped"}

    got, _collected, failure, events = transform_call([("first", 1, first_only)], endless)
    assert failure is None and got == [chat_chunk("0"), {"type": "stopped"}]
    assert log == ["provider closed", "inner closed"]
    _start, marks, end = call_events(events)
    assert len(marks) == 2 and end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_stream_intercept_sees_the_inner_failure() -> None:
    err = ValueError("upstream reset")

    async def failing(r: LLMRequest) -> Any:
        yield chat_chunk("a")
        raise err

    async def shout(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        async for c in await next(request):
            yield upper(c)

    seen: list[Any] = []

    async def fallback(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        try:
            async for c in await next(request):
                yield upper(c)
        except ValueError as e:
            seen.append(e)
            yield {"type": "fallback"}

    # Passed on: the consumer gets the provider's own exception after the transformed chunk.
    got, _collected, failure, events = transform_call([("shout", 1, shout)], failing)
    assert text_of(got) == "A" and failure is err
    _start, _marks, end = call_events(events)
    assert end is not None and end["metadata"]["otel.status_code"] == "ERROR"
    assert end["metadata"]["exception.type"] == "ValueError"
    # Caught: the intercept replaces it with a chunk of its own and the call ends cleanly.
    got, _collected, failure, events = transform_call([("fallback", 1, fallback)], failing)
    assert failure is None and seen == [err] and got == [chat_chunk("A"), {"type": "fallback"}]
    _start, _marks, end = call_events(events)
    assert end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_nested_transforming_stream_intercepts() -> None:
    async def shout(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        async for c in await next(request):
            yield upper(c)

    async def twice(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        async for c in await next(request):
            yield c
            yield {**c, "again": True}

    got, collected, failure, events = transform_call([("shout", 1, shout), ("twice", 2, twice)], letters)
    # The outer intercept rebuilds each chunk, so the inner one's marker is gone: it ran inside.
    assert failure is None and text_of(got) == "AABBCCDD" and collected == got
    _start, marks, end = call_events(events)
    assert len(marks) == 8 and end is not None and end["metadata"] == {"otel.status_code": "OK"}


def test_consumer_closes_while_the_intercept_reads_the_inner_stream() -> None:
    log: list[str] = []

    async def endless(r: LLMRequest) -> Any:
        try:
            i = 0
            while True:
                yield chat_chunk(str(i))
                i += 1
                await asyncio.sleep(0)
        finally:
            log.append("provider closed")

    async def shout(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        try:
            async for c in await next(request):
                yield upper(c)
        finally:
            log.append("intercept closed")

    async def close_after_one(stream: LlmStream, got: list[Any]) -> None:
        got.append(await stream.__anext__())
        await stream.aclose()

    got, _collected, failure, events = transform_call([("shout", 1, shout)], endless, close_after_one)
    assert failure is None and got == [chat_chunk("0")]
    assert sorted(log) == ["intercept closed", "provider closed"]
    _start, _marks, end = call_events(events)
    assert end is not None and end["metadata"]["otel.status_description"] == "stream dropped before clean completion"
    assert end["metadata"]["nemo_relay.stream.end_reason"] == "consumer_closed"


def test_inner_stream_holds_the_inner_layers_back() -> None:
    """The inner stream is bounded: the provider waits while the intercept does not read."""
    n = 3000
    produced = [0]
    ahead: list[int] = []

    async def provider(r: LLMRequest) -> Any:
        for i in range(n):
            produced[0] += 1
            yield {"i": i}

    async def slow(name: str, request: LLMRequest, context: Any, next: Any) -> Any:
        read = 0
        async for c in await next(request):
            read += 1
            if read in (1, 1500):
                for _ in range(50):
                    await asyncio.sleep(0)
                ahead.append(produced[0] - read)
            yield c

    got, _collected, failure, _events = transform_call([("slow", 1, slow)], provider)
    assert failure is None and [c["i"] for c in got] == list(range(n))
    # At most the library's inner buffer (1024) plus the chunk being handed over and the one in flight.
    assert len(ahead) == 2 and all(a <= 1024 + 2 for a in ahead), ahead


# ---- typed --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Delta:
    text: str


@dataclasses.dataclass
class Reply:
    text: str


def test_typed_llm_stream_execute() -> None:
    collected: list[Any] = []

    async def provider(r: LLMRequest) -> Any:
        yield Delta("a")
        yield Delta("b")

    async def body() -> None:
        stream = await nemo_relay.typed.llm_stream_execute(
            "prov",
            req(),
            provider,
            collected.append,
            lambda: Reply("".join(d.text for d in collected)),
            DataclassCodec(Delta),
            DataclassCodec(Reply),
        )
        assert isinstance(stream, LlmStream)
        assert [c async for c in stream] == [{"text": "a"}, {"text": "b"}]  # JSON chunks

        stream = await nemo_relay.typed.llm_stream_execute(
            "prov", req(), lambda r: [], None, None, JsonPassthrough(), JsonPassthrough()
        )
        with pytest.raises(TypeError, match="^expected an asynchronous iterator, got 'list'.$"):
            await stream.__anext__()

    events = run(body)
    assert collected == [Delta("a"), Delta("b")]
    ends = [e for e in events if e["name"] == "prov" and e.get("scope_category") == "end"]
    assert ends[0]["data"] == {"text": "ab"}


def test_gemini_and_bedrock_chunks_are_summarised() -> None:
    # Beyond the reference (which reports provider "unknown" for both): docs/codecs.md, "Stream chunks".
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP", "index": 0}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, "metrics": {"latencyMs": 9}}},
    ]

    async def provider(r: LLMRequest) -> Any:
        for c in chunks:
            yield c

    async def body() -> None:
        stream = await llm.stream_execute("prov", req(), provider, lambda c: None, None)
        assert [c async for c in stream] == chunks

    _start, marks, _end = call_events(run(body))
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert_marks(marks, [
        {"chunk_index": 0, "provider": "gemini_generate_content", "event_type": "streamGenerateContent",
         "choice_indices": [0], "finish_reasons": [{"choice_index": 0, "finish_reason": "STOP"}], "usage": usage},
        {"chunk_index": 1, "provider": "bedrock_converse", "event_type": "messageStop", "stop_reason": "end_turn"},
        {"chunk_index": 2, "provider": "bedrock_converse", "event_type": "metadata", "usage": usage},
    ])
