# SPDX-License-Identifier: Apache-2.0
"""Streaming LLM calls over the C stream ABI (docs/python.md, "Streams"; docs/pipeline.md, "Streaming LLM call").

Everything runs on the caller's event loop, without thread hops:

- each Python stream layer (the provider, each stream execution intercept) is an async iterator
  driven by a task that pushes every chunk into the layer's native producer. A push answered with
  ``NEMO_RELAY_E_FULL`` waits until the consumer takes a chunk, then pushes again;
- the consumer is a callback consumer (``on_chunk``/``on_end``): ``on_chunk`` runs inside the push
  that took the chunk (the collector and the ``llm.chunk`` mark ran just before, in the library),
  hands the chunk to the ``LlmStream`` and keeps its token pending until the consumer took it, so
  the library's bounded buffer holds the rest; ``on_end`` delivers the outcome after the last chunk;
- a stream execution intercept iterates the inner layers' chunks (``await next(request)`` gives an
  ``LlmStream``): ``next`` calls ``nemo_relay_token_next_stream``, whose inner stream is read with
  the same callback consumer as the call's own stream, so the library's bounded inner buffer holds
  what the intercept has not read (docs/pipeline.md, "Transforming stream intercepts"). The intercept
  pushes what it yields into its own producer; the library observes what leaves the outermost layer.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from ctypes import byref, c_void_p
from typing import Any, Callable

from . import _errors, _ffi, _json
from ._runtime import (
    DONE,
    FREE,
    CallState,
    add_slot,
    call_token,
    callback_struct,
    current_call,
    done_struct,
    enter,
    fail,
    lib,
    log,
    positional_arity,
    succeed,
)
from ._requests import LLMRequest, request_arg
from ._contexts import LlmExecutionContext

_loads = _json.loads
_encode = _json.encode
_OK = _ffi.OK
_PENDING = _ffi.PENDING
_E_FULL = _ffi.E_FULL
_E_CANCELLED = _ffi.E_CANCELLED
_push = lib.nemo_relay_stream_push
_complete = lib.nemo_relay_complete


def _aiter(it: Any) -> Any:
    """The async iterator of ``it``; a ``TypeError`` for anything else (lists, sync generators, ...)."""
    a = getattr(type(it), "__aiter__", None)
    if a is not None:
        ai = a(it)
        if hasattr(type(ai), "__anext__"):
            return ai
    raise TypeError(f"expected an asynchronous iterator, got '{type(it).__name__}'.")


def check_sync(fn: Any, what: str) -> None:
    """Collectors and finalizers run inside a native push: they must answer before returning."""
    if fn is None:
        return
    if not callable(fn):
        raise TypeError(f"{what} must be callable, got '{type(fn).__name__}'")
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"{what} must be a synchronous function; async {what}s are not supported")


def _no_awaitable(v: Any, what: str) -> Any:
    if inspect.isawaitable(v):
        if inspect.iscoroutine(v):
            v.close()
        raise TypeError(f"{what} must be synchronous, but it returned an awaitable")
    return v


class _Feed:
    """The chunks of one ``LlmStream`` not yet read, then its outcome. Loop thread only."""

    __slots__ = (
        "abandoned",
        "chunks",
        "closed",
        "done",
        "error",
        "limit",
        "loop",
        "on_take",
        "space",
        "waiter",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.chunks: deque[Any] = deque()
        self.done = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.space: asyncio.Future[None] | None = None
        self.limit = limit
        self.closed = False
        self.abandoned = False
        #: Called after the consumer took a chunk (native delivery resumes).
        self.on_take: Callable[[], None] | None = None

    def full(self) -> bool:
        return not self.abandoned and not self.closed and len(self.chunks) >= self.limit

    def put(self, chunk: Any) -> None:
        if self.closed or self.abandoned:
            return
        self.chunks.append(chunk)
        self._wake_reader()

    def end(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        self.error = None if self.closed else error
        self._wake_reader()
        self.wake_space()

    def take(self) -> Any:
        c = self.chunks.popleft()
        if self.on_take is not None:
            self.on_take()
        self.wake_space()
        return c

    def close(self) -> None:
        """The consumer closed the stream: unread chunks go, later chunks are dropped."""
        self.closed = True
        self.chunks.clear()
        self.done = True
        self.error = None
        self._wake_reader()
        self.wake_space()

    def abandon(self) -> None:
        """The consumer is gone without closing: the producer keeps running into the void."""
        self.abandoned = True
        self.chunks.clear()
        self.wake_space()

    def _wake_reader(self) -> None:
        w, self.waiter = self.waiter, None
        if w is not None and not w.done():
            w.set_result(None)

    def wake_space(self) -> None:
        w, self.space = self.space, None
        if w is not None and not w.done():
            w.set_result(None)

    async def readable(self) -> None:
        w = self.waiter
        if w is None or w.done():
            w = self.waiter = self.loop.create_future()
        await w

    async def wait_space(self) -> None:
        w = self.space
        if w is None or w.done():
            w = self.space = self.loop.create_future()
        await w


class _Ready:
    """An awaitable that is already resolved (``next`` of a stream intercept)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # pragma: no cover - makes this a generator


class LlmStream:
    """The read end of a streaming LLM call: ``async for chunk in stream``, ``await stream.aclose()``.

    Chunks are JSON copies. A provider or collector failure is raised (the same exception object)
    after the chunks produced before it. ``aclose()`` cancels the producer, runs the finalizer on the
    partial state and ends the span with ``stream dropped before clean completion``; a stream that
    is only dropped keeps running to its normal end.
    """

    __slots__ = ("__weakref__", "_call", "_feed")

    def __init__(self, *a: Any, **k: Any) -> None:
        raise TypeError("No constructor defined for LlmStream")

    @classmethod
    def _make(cls, feed: _Feed, call: "StreamCall | InnerStream") -> "LlmStream":
        self = object.__new__(cls)
        self._feed = feed
        self._call = call
        return self

    def __aiter__(self) -> "LlmStream":
        return self

    async def __anext__(self) -> Any:
        feed = self._feed
        while True:
            if feed.chunks:
                return feed.take()
            if feed.done:
                e, feed.error = feed.error, None
                if e is not None:
                    raise e
                raise StopAsyncIteration
            await feed.readable()

    def __await__(self) -> Any:
        return self
        yield  # pragma: no cover - makes this a generator

    async def aclose(self) -> None:
        """Closes the stream early (idempotent; after the end it only discards unread chunks)."""
        feed = self._feed
        if feed.closed:
            return
        feed.close()
        tasks = self._call.close()
        tasks = {t for t in tasks if not t.done() and t is not asyncio.current_task()}
        if tasks:
            await asyncio.wait(tasks)

    def __del__(self) -> None:
        try:
            feed = self._feed
        except AttributeError:
            return
        if feed.closed:
            self._call.release()
            return
        try:
            owner = _loop_thread(feed.loop)
            if owner is None or owner == threading.get_ident():
                self._abandon()  # on the loop's thread, or the loop no longer runs
            else:
                feed.loop.call_soon_threadsafe(self._abandon)
        except Exception:  # noqa: BLE001 - a closed loop or interpreter shutdown
            pass

    def _abandon(self) -> None:
        self._feed.abandon()
        self._call.abandon()

    def __repr__(self) -> str:
        return "<LlmStream>"


def _loop_thread(loop: asyncio.AbstractEventLoop) -> int | None:
    return getattr(loop, "_thread_id", None)


# ---- the managed streaming call -----------------------------------------------------------------


class _ChunkConsumer:
    """The library's callback consumer of one stream (``on_chunk``), feeding an ``LlmStream``: a chunk's
    token stays pending while the feed is full, and is answered when the reader takes one."""

    __slots__ = ()
    feed: _Feed
    parked: int | None

    def on_chunk(self, token: int, doc: bytes) -> int:
        feed = self.feed
        if feed.closed or feed.abandoned:
            succeed(token, b"null")
            return _OK
        feed.put(_loads(doc))
        if feed.full():
            self.parked = token
            return _PENDING
        succeed(token, b"null")
        return _OK

    def _resume_delivery(self) -> None:
        t, self.parked = self.parked, None
        if t is not None:
            succeed(t, b"null")


class StreamCall(CallState, _ChunkConsumer):
    """One ``llm.stream_execute``: its future, the consumer's feed and the native stream handle."""

    __slots__ = ("feed", "native", "parked", "started", "stream_made")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: Any) -> None:
        super().__init__(loop, future, _loads)
        self.feed = _Feed(loop, 1)
        self.feed.on_take = self._resume_delivery
        self.native: int | None = None
        #: The token of the chunk handed to the consumer, completed once the consumer took it.
        self.parked: int | None = None
        self.started = False
        self.stream_made = False

    # -- hops back to the loop thread only when a callback arrives elsewhere (runtime shutdown)

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        assert loop is not None
        if loop.is_closed():
            return  # runtime shutdown after the loop ended: nobody is waiting any more
        if threading.get_ident() == self.thread:
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # -- start: the first Python layer ran, so the start event is recorded

    def mark_started(self) -> None:
        if self.started:
            return
        self.started = True
        fut = self.future
        if fut is not None and not fut.done():
            self.stream_made = True
            fut.set_result(LlmStream._make(self.feed, self))
        self.future = None

    def on_done(self, status: int, payload: bytes) -> None:
        """``on_end``: the outcome, after the last chunk was handed over."""
        self._on_loop(self._end, status, payload)

    def _end(self, status: int, payload: bytes) -> None:
        err = None if status == _OK else self.error(status, payload)
        fut = self.future
        if not self.started and fut is not None:
            # Failed before the start event (guardrail rejection, decode error, cancellation).
            self.future = None
            if not fut.done():
                if status == _E_CANCELLED and err is not None:
                    fut.cancel(str(err))
                else:
                    fut.set_exception(err if err is not None else _errors.InternalError("internal error: stream ended"))
        self.feed.end(err)
        if not self.stream_made:
            self.release()

    # -- consumer actions

    def close(self) -> set[asyncio.Task[Any]]:
        """``aclose()``: the library cancels the producers, finalizes and records the dropped end."""
        p = self.native
        if p:
            with enter(self):
                lib.nemo_relay_stream_close(p)
        self._resume_delivery()
        return set(self.tasks or ())

    def abandon(self) -> None:
        """The consumer dropped the stream: let delivery run freely and release the handle."""
        self._resume_delivery()
        self.release()

    def release(self) -> None:
        p, self.native = self.native, None
        if p:
            try:
                lib.nemo_relay_stream_free(p)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass

    def cancel_before_start(self, fut: Any) -> None:
        if fut.cancelled() and not self.started:
            self.cancel_tasks()
            p = self.native
            if p:
                lib.nemo_relay_stream_close(p)


def find_stream_call() -> StreamCall:
    s: CallState | None = current_call()
    while s is not None:
        if isinstance(s, StreamCall):
            return s
        s = s.parent
    raise _errors.InternalError("internal error: stream layer invoked outside a streaming call")


# ---- stream layers: the provider and the intercepts --------------------------------------------


class _CancelNotice:
    """``nemo_relay_producer_on_cancel``: the consumer closed, or the runtime shut down."""

    __slots__ = ("layer",)

    def __init__(self, layer: "_Layer") -> None:
        self.layer = layer

    def on_done(self, status: int, payload: bytes) -> None:
        self.layer.call._on_loop(self.layer.cancel)


class _Layer:
    """Drives one Python stream layer's async iterator into its producer."""

    __slots__ = ("call", "cancelled", "producer", "task", "token")

    def __init__(self, token: int, producer: int, call: StreamCall) -> None:
        self.token = token
        self.producer = producer
        self.call = call
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        t = self.task
        if t is not None and not t.done() and t is not asyncio.current_task(t.get_loop()):
            t.cancel()

    async def run(self, produced: Any, awaitable_ok: bool) -> None:
        call = self.call
        ai = None
        try:
            if awaitable_ok and inspect.isawaitable(produced) and not hasattr(type(produced), "__aiter__"):
                produced = await produced
            ai = _aiter(produced)
            while not self.cancelled:
                try:
                    chunk = await ai.__anext__()
                except StopAsyncIteration:
                    break
                if not await self._push(chunk):
                    break
        except asyncio.CancelledError:
            self._complete_cancelled()
        except BaseException as e:  # noqa: BLE001 - the stream's failure, raised to its consumer
            if self.cancelled:
                self._complete_cancelled()
            else:
                with enter(call):
                    fail(self.token, e, call)
        else:
            if self.cancelled:
                self._complete_cancelled()
            else:
                with enter(call):
                    succeed(self.token, b"null")
        finally:
            lib.nemo_relay_producer_free(self.producer)
            close = getattr(ai, "aclose", None)
            if close is not None:
                try:
                    await close()
                except BaseException:  # noqa: BLE001 - the stream already ended
                    pass

    def _complete_cancelled(self) -> None:
        msg = b"cancelled"
        _complete(self.token, _E_CANCELLED, msg, len(msg))

    async def _push(self, chunk: Any) -> bool:
        """Pushes one chunk; False once the stream was closed or failed (stop producing)."""
        body = _encode(chunk)
        call = self.call
        while True:
            with enter(call):
                rc = _push(self.producer, body, len(body))
            if rc == _OK:
                return True
            if rc == _E_FULL:
                # The call's stream or an intercept's inner stream is full: any consumer's take wakes this.
                await call.feed.wait_space()
                continue
            if rc == _E_CANCELLED:
                return False
            raise _errors.last_error(rc)


def start_layer(token: int, call: StreamCall, produce: Callable[[], Any], awaitable_ok: bool) -> int:
    """Starts one Python stream layer on its token: now for the checks, then as a task (whose context
    holds ``call_token``, so a propagation capture in the layer names the LLM call as its parent)."""
    t = call_token.set(token)
    try:
        return _start_layer(token, call, produce, awaitable_ok)
    finally:
        call_token.reset(t)


def _start_layer(token: int, call: StreamCall, produce: Callable[[], Any], awaitable_ok: bool) -> int:
    call.mark_started()
    out = c_void_p()
    rc = lib.nemo_relay_token_producer(byref(out), token)
    if rc != _OK:
        fail(token, _errors.last_error(rc), call)
        return _OK
    producer = out.value
    try:
        produced = produce()
        if not awaitable_ok or not inspect.isawaitable(produced) or hasattr(type(produced), "__aiter__"):
            _aiter(produced)
    except BaseException as e:  # noqa: BLE001 - fails this layer's output
        lib.nemo_relay_producer_free(producer)
        fail(token, e, call)
        return _OK
    layer = _Layer(token, producer, call)
    loop = call.loop
    assert loop is not None
    task = loop.create_task(layer.run(produced, awaitable_ok))
    layer.task = task
    call.add_task(task)
    notice = _ffi.Done(DONE, add_slot(_CancelNotice(layer)), FREE)
    rc = lib.nemo_relay_producer_on_cancel(producer, byref(notice))
    if rc != _OK:  # the layer then only learns of a close from its next push
        log.debug("nemo_relay_producer_on_cancel failed: %s", _errors.last_error(rc))
    return _PENDING


class InnerStream(_ChunkConsumer):
    """The read end of a stream intercept's inner layers (``nemo_relay_token_next_stream``).

    The library's callback consumer feeds an ``LlmStream``, as for the call's own stream: a chunk's
    token stays pending while the intercept has a chunk unread, so the library's bounded inner buffer
    holds the rest and the inner layers wait for the intercept (docs/pipeline.md, "Transforming stream
    intercepts").
    """

    __slots__ = ("call", "feed", "native", "parked", "tasks")

    def __init__(self, call: StreamCall) -> None:
        loop = call.loop
        assert loop is not None
        self.call = call
        self.feed = _Feed(loop, 1)
        self.feed.on_take = self._resume_delivery
        self.native: int | None = None
        self.parked: int | None = None
        #: The tasks of the inner layers started by this ``next`` (closing waits for them).
        self.tasks: set[asyncio.Task[Any]] = set()

    def _resume_delivery(self) -> None:
        super()._resume_delivery()
        # Inner layers whose push found the inner buffer full wait on the call's feed: wake them.
        self.call.feed.wake_space()

    def on_done(self, status: int, payload: bytes) -> None:
        self.call._on_loop(self._end, status, payload)

    def _end(self, status: int, payload: bytes) -> None:
        self.feed.end(None if status == _OK else self.call.error(status, payload))

    def close(self) -> set[asyncio.Task[Any]]:
        """``aclose()``: the library cancels the inner layers only; the intercept goes on."""
        p = self.native
        if p:
            with enter(self.call):
                lib.nemo_relay_stream_close(p)
        self._resume_delivery()
        return self.tasks

    def abandon(self) -> None:
        self._resume_delivery()
        self.release()

    def release(self) -> None:
        p, self.native = self.native, None
        if p:
            try:
                lib.nemo_relay_stream_free(p)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


def stream_next(token: int, call: StreamCall) -> Callable[[Any], Any]:
    """The ``next`` of a stream intercept: runs the inner layers; awaiting it gives their stream."""

    def next_(request: Any) -> Any:
        body = _json.dumps(request_arg(request)._wire())
        inner = InnerStream(call)
        so = _ffi.StreamOptions(_ffi.STREAM_OPTIONS_VERSION, 0)
        so.on_chunk = callback_struct(inner.on_chunk)
        so.on_end = done_struct(inner)
        out = c_void_p()
        before = set(call.tasks or ())
        with enter(call):
            rc = lib.nemo_relay_token_next_stream(byref(out), token, body, len(body), byref(so))
        if rc != _OK:
            raise _errors.last_error(rc)
        inner.native = out.value
        inner.tasks = set(call.tasks or ()) - before
        return _Ready(LlmStream._make(inner.feed, inner))

    return next_


def stream_intercept(fn: Any) -> Callable[[int, bytes], int]:
    """Adapter of ``register_llm_stream_execution``: ``fn(name, request, context, next)`` (0.10.4)
    or the legacy ``fn(request, next)`` (docs/python.md, "Legacy callback forms", #10), chosen by positional arity."""
    legacy = positional_arity(fn) == 2

    def handler(token: int, doc: bytes) -> int:
        d = _loads(doc)
        call = find_stream_call()
        req = LLMRequest._from_wire(d["request"])
        nxt = stream_next(token, call)
        if legacy:
            return start_layer(token, call, lambda: fn(req, nxt), True)
        ctx = LlmExecutionContext(d.get("context"))
        object.__setattr__(ctx, "response_codec", None)  # None in stream intercepts (docs/python.md, "Codec contexts")
        return start_layer(token, call, lambda: fn(d["name"], req, ctx, nxt), True)

    return handler


# ---- collector and finalizer --------------------------------------------------------------------


def collector_struct(fn: Any, call: StreamCall) -> _ffi.Callback:
    def handler(token: int, doc: bytes) -> int:
        try:
            _no_awaitable(fn(_loads(doc)), "collector")
        except BaseException as e:  # noqa: BLE001 - fails the stream; the consumer gets this object
            fail(token, e, call)
            return _OK
        succeed(token, b"null")
        return _OK

    return callback_struct(handler)


def finalizer_struct(fn: Any, call: StreamCall) -> _ffi.Callback:
    def handler(token: int, doc: bytes) -> int:
        try:
            payload = _encode(_no_awaitable(fn(), "finalizer"))
        except BaseException as e:  # noqa: BLE001 - logged by the runtime; the end payload is null
            fail(token, e, call, store=False)
            return _OK
        succeed(token, payload)
        return _OK

    return callback_struct(handler)
