# SPDX-License-Identifier: Apache-2.0
"""Error mapping, accept-both rules, contextvars isolation, cancellation and callback exceptions."""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import threading
from typing import Any

import pytest
from conftest import arun, run_fresh

import nemo_relay
from nemo_relay import (
    AnnotatedLLMRequest,
    LLMRequest,
    LLMRequestInterceptOutcome,
    ScopeAttributes,
    ScopeType,
    ToolExecutionInterceptOutcome,
    ToolExecutionResult,
    _errors,
    _lib,
)
from nemo_relay.codecs import OpenAIChatCodec

scope, llm, tools, intercepts = nemo_relay.scope, nemo_relay.llm, nemo_relay.tools, nemo_relay.intercepts


def req(text: str = "hi") -> LLMRequest:
    return LLMRequest({}, {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})


# ---- error mapping ------------------------------------------------------------------------------


def test_status_table_covers_every_code() -> None:
    assert sorted(_errors.ERRORS) == list(range(1, 13))
    for status, cls in _errors.ERRORS.items():
        e = _errors.error_for(status, "x")
        assert isinstance(e, RuntimeError) and isinstance(e, nemo_relay.NemoRelayError) and e.status == status


def test_pop_errors_keep_the_runtime_prefixes() -> None:
    def body() -> None:
        root = scope.get_handle()
        with pytest.raises(nemo_relay.InvalidArgumentError, match="^invalid argument: root scope cannot be removed$"):
            scope.pop(root)
        a = scope.push("a", ScopeType.Function)
        b = scope.push("b", ScopeType.Function)
        with pytest.raises(RuntimeError, match="^invalid argument: scope handle is not at the top of the stack$"):
            scope.pop(a)
        scope.pop(b)
        scope.pop(a)
        with pytest.raises(nemo_relay.NotFoundError, match="^not found: scope handle not found$"):
            scope.pop(a)

    run_fresh(body)


def test_duplicate_registration_is_already_exists() -> None:
    nemo_relay.guardrails.register_tool_conditional_execution("dup", 1, lambda n, a: None)
    try:
        with pytest.raises(nemo_relay.AlreadyExistsError, match="^already exists: dup already exists$"):
            nemo_relay.guardrails.register_tool_conditional_execution("dup", 2, lambda n, a: None)
    finally:
        assert nemo_relay.guardrails.deregister_tool_conditional_execution("dup") is True
    assert nemo_relay.guardrails.deregister_tool_conditional_execution("dup") is False


def test_argument_type_errors() -> None:
    with pytest.raises(TypeError, match="'str' object is not an instance of 'ScopeType'"):
        scope.push("x", "agent")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scope.push("x", ScopeType.Function, None)  # type: ignore[misc]
    with pytest.raises(TypeError, match="'int' object is not an instance of 'ScopeAttributes'"):
        scope.push("x", ScopeType.Function, attributes=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'dict' object is not an instance of 'LLMRequest'"):
        llm.call("x", {"headers": {}, "content": {}})  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="^Failed to convert to JSON: unexpected type: 'int' object is not an instance of 'str'$"
    ):
        scope.event("m", data={1: "x"})
    with pytest.raises(ValueError, match="^Failed to convert to JSON: unsupported type object$"):
        scope.event("m", data=object())
    with pytest.raises(OverflowError):
        nemo_relay.intercepts.register_tool_request("x", 2**31, False, lambda n, a: a)
    with pytest.raises(TypeError):
        nemo_relay.intercepts.register_tool_request("x", 1, 1, lambda n, a: a)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        import datetime

        scope.event("m", timestamp=datetime.datetime(2024, 1, 1))
    with pytest.raises(RuntimeError, match="no running event loop"):
        llm.execute("x", req(), lambda r: {})


def test_scope_type_and_flags_shape() -> None:
    assert ScopeType.Agent == 0 and int(ScopeType.Tool) == 2 and repr(ScopeType.Llm) == "ScopeType.Llm"
    with pytest.raises(TypeError):
        ScopeType(0)
    with pytest.raises(TypeError):
        hash(ScopeType.Agent)
    both = ScopeAttributes(ScopeAttributes.PARALLEL) | ScopeAttributes(ScopeAttributes.RELOCATABLE)
    assert both.value == 3 and both.is_parallel and both.is_relocatable
    assert repr(both) == "ScopeAttributes(ScopeAttributes(PARALLEL | RELOCATABLE))"
    with pytest.raises(TypeError):
        both | 1  # type: ignore[operator]


def test_annotated_request_copies_and_validation() -> None:
    a = AnnotatedLLMRequest([{"role": "user", "content": "x"}], params={"temperature": 1, "foo": 2, "stop": "END"})
    a.messages.append({"role": "user", "content": "lost"})
    assert len(a.messages) == 1
    assert a.params == {"temperature": 1.0, "stop": ["END"]}
    a.messages = [*a.messages, {"role": "assistant", "content": "kept"}]
    assert len(a.messages) == 2
    with pytest.raises(ValueError, match="^invalid messages"):
        AnnotatedLLMRequest([{"role": "wizard"}])
    with pytest.raises(ValueError, match="^invalid tool_choice"):
        AnnotatedLLMRequest([], tool_choice=5)
    with pytest.raises(TypeError):
        AnnotatedLLMRequest([], store=True)  # type: ignore[call-arg]


def test_version_mismatch_names_both_versions() -> None:
    class Fake:
        class nemo_relay_version_number:  # noqa: N801
            restype = argtypes = None

            def __new__(cls) -> int:  # type: ignore[misc]
                return 1_005_000

    with pytest.raises(ImportError, match=rf"1\.5\.0.*targets 0\.{_lib.TARGET_MINOR}"):
        _lib.check_version(Fake)  # type: ignore[arg-type]


def test_an_older_library_fails_at_import_with_the_version_message() -> None:
    class Old:
        class nemo_relay_version_number:  # noqa: N801
            restype = argtypes = None

            def __new__(cls) -> int:  # type: ignore[misc]
                return (_lib.TARGET_MINOR - 1) * 1000  # the previous minor lacks the newest export

    with pytest.raises(ImportError, match=rf"0\.{_lib.TARGET_MINOR - 1}\.0.*targets 0\.{_lib.TARGET_MINOR}"):
        _lib.check_version(Old)  # type: ignore[arg-type]


# ---- callback exceptions ------------------------------------------------------------------------


def test_provider_exception_is_the_same_object_sync_and_async() -> None:
    async def main() -> None:
        err = KeyError("x")

        def sync_provider(r: LLMRequest) -> Any:
            raise err

        with pytest.raises(KeyError) as info:
            await llm.execute("p", req(), sync_provider)
        assert info.value is err

        err2 = ValueError("later")

        async def suspending(r: LLMRequest) -> Any:
            await asyncio.sleep(0.001)
            raise err2

        with pytest.raises(ValueError) as info2:
            await llm.execute("p", req(), suspending)
        assert info2.value is err2

    arun(main)


def test_a_forked_task_keeps_the_parents_propagation_root(collector: Any) -> None:
    """As the reference: an Agent opened in a forked task does not become the root of its spans."""

    async def child() -> None:
        h = scope.push("forked-agent", ScopeType.Agent)
        scope.pop(h)

    async def main() -> None:
        f = scope.push("fork-parent", ScopeType.Function)
        await asyncio.get_running_loop().create_task(child(), context=nemo_relay.fork_asyncio_context())
        scope.pop(f)

    arun(main)
    events = collector.events()
    parent = [e for e in events if e["name"] == "fork-parent"][0]
    forked = [e for e in events if e["name"] == "forked-agent"]
    assert len(forked) == 2
    assert {e["propagation_root_uuid"] for e in forked} == {parent["propagation_root_uuid"]}
    assert forked[0]["uuid"] != parent["propagation_root_uuid"]


def test_an_intercept_that_drops_the_annotation_under_a_codec_fails_before_the_provider() -> None:
    """As the reference: an outcome without annotated_request while a request codec is active fails."""
    called = []

    def omit(name: str, request: LLMRequest, annotated: Any) -> Any:
        return nemo_relay.LLMRequestInterceptOutcome(request)

    async def main() -> None:
        def provider(r: LLMRequest) -> Any:
            called.append(r)
            return {}

        body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(
            nemo_relay.InvalidArgumentError,
            match="^invalid argument: LLM request intercept 'omit' omitted annotated_request while a request codec "
            "is active$",
        ):
            await llm.execute("omit-call", LLMRequest({}, body), provider, codec=OpenAIChatCodec())

    intercepts.register_llm_request("omit", 1, False, omit)
    try:
        arun(main)
    finally:
        intercepts.deregister_llm_request("omit")
    assert called == []


def test_end_events_name_the_exception_by_its_qualified_name(collector: Any) -> None:
    """As the reference: the status text names ``__qualname__``, ``exception.type`` the plain name."""

    class ProviderDown(Exception):
        pass

    async def main() -> None:
        def provider(r: LLMRequest) -> Any:
            raise ProviderDown("boom")

        with pytest.raises(ProviderDown):
            await llm.execute("qualname-llm", req(), provider)

    arun(main)
    end = [e for e in collector.events() if e["name"] == "qualname-llm"][-1]
    qualname = ProviderDown.__qualname__
    assert qualname.endswith("<locals>.ProviderDown")
    assert end["metadata"]["otel.status_description"] == f"internal error: {qualname}: boom"
    assert end["metadata"]["exception.type"] == "ProviderDown"


def test_intercept_exceptions_propagate_unchanged() -> None:
    err = LookupError("intercept failed")

    def bad(name: str, request: Any, annotated: Any) -> Any:
        raise err

    intercepts.register_llm_request("bad", 1, False, bad)
    try:

        async def main() -> None:
            with pytest.raises(LookupError) as info:
                await llm.execute("p", req(), lambda r: {"ok": 1})
            assert info.value is err

        arun(main)
    finally:
        intercepts.deregister_llm_request("bad")


def test_concurrent_failures_keep_their_own_exceptions() -> None:
    async def main() -> None:
        errs = [RuntimeError("same text") for _ in range(5)]

        def provider_for(e: BaseException) -> Any:
            async def p(r: LLMRequest) -> Any:
                await asyncio.sleep(0.001)
                raise e

            return p

        results = await asyncio.gather(
            *(llm.execute("p", req(), provider_for(e)) for e in errs), return_exceptions=True
        )
        assert all(r is e for r, e in zip(results, errs))

    arun(main)


# ---- accept both --------------------------------------------------------------------------------


def test_request_intercept_tuple_and_outcome_and_bad_shape() -> None:
    async def main() -> None:
        seen: list[Any] = []

        def as_tuple(name: str, request: LLMRequest, annotated: Any) -> Any:
            annotated.messages = [{"role": "system", "content": "S"}, *annotated.messages]
            return request, annotated

        def as_outcome(name: str, request: LLMRequest, annotated: Any) -> Any:
            return LLMRequestInterceptOutcome(LLMRequest({**request.headers, "x-a": "1"}, request.content), annotated)

        intercepts.register_llm_request("t1", 1, False, as_tuple)
        intercepts.register_llm_request("t2", 2, False, as_outcome)
        try:

            def provider(r: LLMRequest) -> Any:
                seen.append(r)
                return {"ok": True}

            await llm.execute("p", req(), provider, codec=OpenAIChatCodec())
        finally:
            intercepts.deregister_llm_request("t1")
            intercepts.deregister_llm_request("t2")
        assert seen[0].content["messages"][0] == {"role": "system", "content": "S"}
        assert seen[0].headers["x-a"] == "1"

        intercepts.register_llm_request("bad-shape", 1, False, lambda n, r, a: r)
        try:
            with pytest.raises(RuntimeError, match="must return LLMRequestInterceptOutcome: 'LLMRequest' object"):
                await llm.execute("p", req(), provider)
        finally:
            intercepts.deregister_llm_request("bad-shape")

    arun(main)


def test_tool_plain_result_is_wrapped_and_legacy_execution_intercept() -> None:
    async def main() -> None:
        r = await tools.execute("t", {"a": 1}, lambda args: {"hits": 2})
        assert isinstance(r, ToolExecutionResult) and r.result == {"hits": 2}

        async def legacy(tool_name: str, args: Any, next: Any) -> Any:
            inner = await next({**args, "b": 2})
            return {"wrapped": inner.result}

        async def modern(ctx: Any, next: Any) -> Any:
            inner = await next(ctx.args)
            return ToolExecutionInterceptOutcome(inner.result, annotation={"by": ctx.tool_name})

        intercepts.register_tool_execution("legacy", 1, legacy)
        intercepts.register_tool_execution("modern", 2, modern)
        try:
            out = await tools.execute("t", {"a": 1}, lambda args: ToolExecutionResult(args))
        finally:
            intercepts.deregister_tool_execution("legacy")
            intercepts.deregister_tool_execution("modern")
        assert out.result == {"wrapped": {"a": 1, "b": 2}}

    arun(main)


def test_llm_execution_intercept_both_arities_and_next_twice() -> None:
    async def main() -> None:
        calls: list[int] = []

        def provider(r: LLMRequest) -> Any:
            calls.append(1)
            return {"n": len(calls)}

        async def modern(name: str, request: Any, context: Any, next: Any) -> Any:
            assert context.request_codec.codec.kind == "none"
            first = await next(request)
            second = await next(request)
            return {"first": first, "second": second}

        def legacy(name: str, request: Any, next: Any) -> Any:
            return next(request)

        intercepts.register_llm_execution("modern", 1, modern)
        intercepts.register_llm_execution("legacy", 2, legacy)
        try:
            out = await llm.execute("p", req(), provider)
        finally:
            intercepts.deregister_llm_execution("modern")
            intercepts.deregister_llm_execution("legacy")
        assert out == {"first": {"n": 1}, "second": {"n": 2}}

    arun(main)


# ---- contextvars, threads, cancellation ---------------------------------------------------------


def test_two_tasks_on_one_loop_never_see_each_others_scopes() -> None:
    async def worker(name: str, seen: dict[str, list[str]]) -> None:
        h = scope.push(name, ScopeType.Function)
        for _ in range(3):
            await asyncio.sleep(0.001)
            seen[name].append(scope.get_handle().name)
        scope.pop(h)

    async def main() -> None:
        seen: dict[str, list[str]] = {"a": [], "b": []}
        # Contexts without a stack yet: each task creates its own on first use.
        await asyncio.gather(worker("a", seen), worker("b", seen))
        assert seen == {"a": ["a"] * 3, "b": ["b"] * 3}
        # A context that already has a stack: isolation is opt-in through fork_asyncio_context.
        outer = scope.push("outer", ScopeType.Agent)
        seen = {"a": [], "b": []}
        t1 = asyncio.get_running_loop().create_task(worker("a", seen), context=nemo_relay.fork_asyncio_context())
        t2 = asyncio.get_running_loop().create_task(worker("b", seen), context=nemo_relay.fork_asyncio_context())
        await asyncio.gather(t1, t2)
        assert seen == {"a": ["a"] * 3, "b": ["b"] * 3}
        assert scope.get_handle().uuid == outer.uuid
        scope.pop(outer)

    arun(main)


def test_provider_sees_the_enclosing_scope_and_stack_helpers() -> None:
    async def main() -> None:
        assert not nemo_relay.scope_stack_active()
        with scope.scope("agent", ScopeType.Agent) as agent:
            assert nemo_relay.scope_stack_active()
            out = await llm.execute("p", req(), lambda r: {"top": scope.get_handle().uuid})
            assert out == {"top": agent.uuid}
            stack = nemo_relay.propagate_scope_to_thread()
            got: list[str] = []

            def worker() -> None:
                nemo_relay.set_thread_scope_stack(stack)
                got.append(scope.get_handle().uuid)

            t = threading.Thread(target=worker)
            t.start()
            t.join()
            assert got == [agent.uuid]

    arun(main)


def test_cancelling_the_future_cancels_the_call(collector: Any) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def slow(r: LLMRequest) -> Any:
            started.set()
            await asyncio.sleep(10)
            return {}

        fut = llm.execute("cancel-me", req(), slow)
        await started.wait()
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut

    arun(main)
    end = [e for e in collector.events() if e["name"] == "cancel-me"][-1]
    assert end["scope_category"] == "end"
    assert end["metadata"]["otel.status_code"] == "ERROR"


def test_an_abandoned_provider_task_is_cancelled() -> None:
    """An execution intercept that answers without awaiting its ``next``: the library cancels the inner
    provider's token (nemo_relay_token_on_cancel) and the binding cancels the task running it."""

    async def main() -> None:
        started = asyncio.Event()
        stopped = asyncio.Event()
        outcome: list[str] = []

        async def slow(r: LLMRequest) -> Any:
            started.set()
            try:
                await asyncio.sleep(30)
                outcome.append("finished")
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise
            finally:
                stopped.set()
            return {}

        async def abandon(name: str, request: Any, context: Any, next: Any) -> Any:
            pending = next(request)
            await started.wait()
            assert not pending.done()
            return {"short": True}

        intercepts.register_llm_execution("abandon", 0, abandon)
        try:
            assert await llm.execute("abandoned", req(), slow) == {"short": True}
            await asyncio.wait_for(stopped.wait(), 10)
        finally:
            intercepts.deregister_llm_execution("abandon")
        assert outcome == ["cancelled"]

    arun(main)


def test_completion_from_another_thread() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def provider(r: LLMRequest) -> Any:
            fut: asyncio.Future[Any] = loop.create_future()
            threading.Timer(0.01, lambda: loop.call_soon_threadsafe(fut.set_result, {"thread": True})).start()
            return await fut

        assert await llm.execute("p", req(), provider) == {"thread": True}

    arun(main)


def test_work_starts_eagerly() -> None:
    async def main() -> None:
        ran: list[bool] = []
        fut = llm.execute("p", req(), lambda r: ran.append(True) or {"ok": 1})
        assert ran == [True] and fut.done()
        assert await fut == {"ok": 1}

    arun(main)


# ---- subscribers --------------------------------------------------------------------------------


def test_flush_guard_and_subscriber_thread(collector: Any) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="cannot block a running asyncio event loop"):
            nemo_relay.subscribers.flush()
        scope.event("flushed")
        await nemo_relay.subscribers.flush_async()

    arun(main)
    assert any(e["name"] == "flushed" for e in collector.events())
    assert threading.current_thread().name not in collector.threads


def test_async_subscriber_is_rejected() -> None:
    async def sub(ev: Any) -> None:
        pass

    with pytest.raises(TypeError):
        nemo_relay.subscribers.register("async-sub", sub)


def test_scope_local_subscriber_and_intercept() -> None:
    async def main() -> list[str]:
        names: list[str] = []
        with scope.scope("owner", ScopeType.Agent) as owner:
            nemo_relay.scope_local.register_subscriber(owner, "local", lambda ev: names.append(ev.name))
            nemo_relay.scope_local.register_tool_request(owner, "add", 1, False, lambda n, a: {**a, "local": True})
            r = await tools.execute("t", {}, lambda args: ToolExecutionResult(args))
            assert r.result == {"local": True}
        r = await tools.execute("t", {}, lambda args: ToolExecutionResult(args))
        assert r.result == {}
        with pytest.raises(nemo_relay.NotFoundError, match="^not found: "):
            nemo_relay.scope_local.deregister_tool_request(owner, "add")
        await nemo_relay.subscribers.flush_async()
        return names

    names = arun(main)
    assert "t" in names and "owner" in names


def test_chain_helpers_dual_mode() -> None:
    nemo_relay.guardrails.register_llm_conditional_execution(
        "chain-block", 1, lambda r: "no" if "bad" in str(r.content) else None
    )
    try:
        assert llm.conditional_execution(req("fine")) is None
        with pytest.raises(RuntimeError, match="^guardrail rejected: no$"):
            llm.conditional_execution(req("bad"))

        async def main() -> None:
            with pytest.raises(RuntimeError, match="^guardrail rejected: no$"):
                await llm.conditional_execution(req("bad"))

        arun(main)
    finally:
        nemo_relay.guardrails.deregister_llm_conditional_execution("chain-block")


def test_codec_failures_are_wrapped() -> None:
    class Broken:
        def decode(self, request: Any) -> Any:
            raise KeyError("x")

        def encode(self, annotated: Any, original: Any) -> Any:
            return original

    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"^internal error: Codec decode\(\) failed: KeyError: 'x'$"):
            await llm.execute("p", req(), lambda r: {}, codec=Broken())

    arun(main)


def test_handles_are_managed() -> None:
    def body() -> None:
        h = scope.push("m", ScopeType.Function)
        assert h.scope_type is ScopeType.Function or h.scope_type == ScopeType.Function
        assert h.parent_uuid == scope.get_handle().parent_uuid or True
        scope.pop(h)
        assert h.name == "m"
        h.close()
        h.close()
        with pytest.raises(ValueError):
            scope.pop(h)

    run_fresh(body)
    assert isinstance(ctypes.c_void_p, type) and contextvars


def test_event_middleware_runs_only_with_a_subscriber() -> None:
    """A deliberate difference from the reference (docs/middleware.md, "Event middleware"): without a
    subscriber, metadata injectors and event sanitizers do not run. In a fresh interpreter, so no
    other test's subscriber is registered."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import nemo_relay
        from nemo_relay import event_metadata, guardrails, scope, subscribers
        calls = []
        event_metadata.register_injector("count", 0, lambda e: calls.append("inject") or {})
        guardrails.register_mark_sanitize("count", 0, lambda e, f: calls.append("sanitize") or f)
        scope.event("unheard")
        assert calls == [], calls
        subscribers.register("ignore", lambda e: None)
        scope.event("heard")
        subscribers.flush()
        assert calls == ["inject", "sanitize"], calls
        print("ok")
        """
    )
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
