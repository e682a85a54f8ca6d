# SPDX-License-Identifier: Apache-2.0
"""The process runtime, scope stacks per context, handles and the callback bridge.

Callbacks: every C callback goes through one of the module-level ``CFUNCTYPE`` trampolines below
(never collected), with an integer slot of ``_slots`` as user data; the ``user_data_free``
trampoline releases the slot. A Python callback answers through the completion protocol: now, or
(when its coroutine really suspends) later from a task on the loop. A failing callback's exception is
kept in ``_failures`` under a fresh id passed with the failure (``nemo_relay_complete_failure``); the
call that receives the failure reads the id (``nemo_relay_last_error_id``) and re-raises that very
object. The library releases ids whose failure reached no caller, so the table never grows.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import inspect
import ctypes
import itertools
import logging
import threading
import weakref
from ctypes import byref, c_size_t, c_void_p, string_at
from types import CoroutineType
from typing import Any, Callable

from . import _errors, _ffi, _json
from ._managed import Managed
from ._types import LLMAttributes, ScopeAttributes, ScopeType, ToolAttributes, _SCOPE_TYPES

lib = _ffi.lib
log = logging.getLogger("nemo_relay")
OK = _ffi.OK
PENDING = _ffi.PENDING
E_CALLBACK = _ffi.E_CALLBACK
_complete = lib.nemo_relay_complete
_complete_failure = lib.nemo_relay_complete_failure
_last_error_id = lib.nemo_relay_last_error_id
_last_error_message = lib.nemo_relay_last_error_message
_token_enter = lib.nemo_relay_token_enter
_token_leave = lib.nemo_relay_token_leave

# ---- the process runtime ----------------------------------------------------------------------

_rt_lock = threading.Lock()
_rt: int | None = None
_rt_closed = False


def runtime() -> int:
    """The process-wide runtime, created on first use."""
    rt = _rt
    if rt is not None:
        return rt
    return _create_runtime()


def _create_runtime() -> int:
    global _rt
    with _rt_lock:
        if _rt is None:
            if _rt_closed:
                raise _errors.MisuseError("misuse: the nemo_relay runtime was shut down at interpreter exit")
            out = c_void_p()
            _errors.check(lib.nemo_relay_runtime_new(byref(out), None))
            _errors.check(lib.nemo_relay_runtime_set_log_callback(out, LOG, None, _ffi.FREE_FN()))
            _rt = out.value
        return _rt


#: NEMO_RELAY_SEVERITY_* to ``logging`` levels (logging has no trace level: trace is debug).
_LOG_LEVELS = (logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


def _log_tramp(level: int, ptr: int, n: int, _ud: int) -> None:
    """Runtime diagnostics (a failing sanitizer, injector, response codec, ...) go to the
    ``nemo_relay`` logger; with no handler configured, warnings and errors reach stderr."""
    try:
        lvl = _LOG_LEVELS[level] if 0 <= level < len(_LOG_LEVELS) else logging.WARNING
        if log.isEnabledFor(lvl):
            log.log(lvl, "%s", string_at(ptr, n).decode("utf-8", "replace") if ptr else "")
    except BaseException:  # noqa: BLE001 - never unwind into C (interpreter shutdown included)
        pass


def _shutdown() -> None:
    """atexit: deliver what is queued, then stop every subscriber thread so none calls into Python
    after finalization (docs/python.md, "Interpreter exit")."""
    global _rt, _rt_closed
    with _rt_lock:
        rt, _rt, _rt_closed = _rt, None, True
    if rt:
        lib.nemo_relay_flush(rt, 10_000_000_000)
        lib.nemo_relay_runtime_free(rt)


atexit.register(_shutdown)

# ---- stacks follow contextvars ----------------------------------------------------------------


class ScopeStack(Managed):
    """A scope stack (opaque)."""

    __slots__ = ()
    _free = lib.nemo_relay_stack_free
    _what = "scope stack"

    def __repr__(self) -> str:
        return "<ScopeStack>"


_stack_var: contextvars.ContextVar[ScopeStack] = contextvars.ContextVar("nemo_relay_scope_stack")


def new_stack(parent: ScopeStack | None = None) -> ScopeStack:
    out = c_void_p()
    _errors.check(lib.nemo_relay_stack_new(byref(out), parent._handle() if parent else None))
    return ScopeStack(out.value, parent)


def current_stack() -> ScopeStack:
    s = _stack_var.get(None)
    if s is None:
        s = new_stack()
        _stack_var.set(s)
    return s


def stack_ptr() -> int:
    s = _stack_var.get(None)
    if s is None:
        s = new_stack()
        _stack_var.set(s)
    return s._ptr  # type: ignore[return-value]


# ---- handles ----------------------------------------------------------------------------------


class _Handle(Managed):
    """A scope, LLM or tool span handle. Properties come from ``nemo_relay_scope_info`` once."""

    __slots__ = ("_info",)
    _free = lib.nemo_relay_scope_free
    _what = "handle"
    _attr_cls: type = ScopeAttributes

    def __init__(self, ptr: int) -> None:
        self._ptr = ptr
        self._parent = None
        self._info: dict[str, Any] | None = None

    def _i(self) -> dict[str, Any]:
        info = self._info
        if info is None:
            out, n = c_void_p(), c_size_t()
            _errors.check(lib.nemo_relay_scope_info(byref(out), byref(n), self._handle()))
            info = self._info = _json.loads(_ffi.take_string(out, n))
        return info

    @property
    def uuid(self) -> str:
        return self._i()["uuid"]

    @property
    def name(self) -> str:
        return self._i()["name"]

    @property
    def parent_uuid(self) -> str | None:
        return self._i()["parent_uuid"]

    @property
    def attributes(self) -> Any:
        return self._attr_cls(self._i()["attributes"])

    @property
    def data(self) -> Any:
        return _json.copy(self._i()["data"])

    @property
    def metadata(self) -> Any:
        return _json.copy(self._i()["metadata"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, uuid={self.uuid!r})"


class ScopeHandle(_Handle):
    __slots__ = ()

    @property
    def scope_type(self) -> ScopeType:
        return _SCOPE_TYPES[self._i()["scope_type"]]


class LLMHandle(_Handle):
    __slots__ = ()
    _attr_cls = LLMAttributes


class ToolHandle(_Handle):
    __slots__ = ()
    _attr_cls = ToolAttributes


def parent_arg(handle: Any) -> int | None:
    if handle is None:
        return None
    if type(handle) is not ScopeHandle:
        raise TypeError(f"'{type(handle).__name__}' object is not an instance of 'ScopeHandle'")
    return handle._handle()


def name_arg(name: Any) -> bytes:
    """A ``str`` name as the UTF-8 bytes the C API takes; anything else raises ``TypeError``."""
    if not isinstance(name, str):
        raise TypeError(f"'{type(name).__name__}' object is not an instance of 'str'")
    return cstr(name)


def cstr(s: Any) -> bytes:
    """``s`` as the NUL-terminated UTF-8 the C API takes: a NUL inside would silently cut it there,
    so it raises ``ValueError("embedded null character")`` (what CPython says for C strings); a lone
    surrogate raises ``UnicodeEncodeError``; a non-``str`` raises ``TypeError`` as the reference does."""
    if type(s) is not str and not isinstance(s, str):
        raise TypeError(f"'{type(s).__name__}' object is not an instance of 'str'")
    b = s.encode()
    if b"\0" in b:
        raise ValueError("embedded null character")
    return b


def no_result(_payload: bytes) -> None:
    """The result reader of a chain call that answers nothing."""


# ---- the callback registry --------------------------------------------------------------------

_slots: dict[int, Any] = {}
_next_slot = itertools.count(1).__next__


def add_slot(obj: Any) -> int:
    i = _next_slot()
    _slots[i] = obj
    return i


def _free_slot(ud: int | None) -> None:
    try:
        _slots.pop(ud, None)
    except Exception:  # interpreter shutdown
        pass


_tls = threading.local()


class CallState:
    """One managed call (or chain helper): its loop, future and live tasks."""

    __slots__ = ("loop", "future", "tasks", "call", "thread", "convert", "parent")
    #: True for a chain helper run without a loop: its callbacks may not return awaitables.
    sync_only = False

    def __init__(self, loop: asyncio.AbstractEventLoop | None, future: Any, convert: Callable[[bytes], Any]) -> None:
        self.loop = loop
        self.future = future
        self.tasks: set[asyncio.Task[Any]] | None = None
        self.call: int | None = None
        self.thread = threading.get_ident()
        self.convert = convert
        self.parent: CallState | None = None

    def add_task(self, t: asyncio.Task[Any]) -> None:
        if self.tasks is None:
            self.tasks = set()
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def cancel_tasks(self) -> None:
        for t in list(self.tasks or ()):
            t.cancel()

    # -- done ---------------------------------------------------------------------------------

    def on_done(self, status: int, payload: bytes) -> None:
        if self.loop is None or threading.get_ident() == self.thread:
            self.resolve(status, payload)
        else:
            try:
                self.loop.call_soon_threadsafe(self.resolve, status, payload)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def resolve(self, status: int, payload: bytes) -> None:
        fut = self.future
        call, self.call = self.call, None
        if call:
            lib.nemo_relay_call_free(call)
        if fut.done():
            return
        if status == OK:
            try:
                fut.set_result(self.convert(payload))
            except BaseException as e:  # noqa: BLE001 - conversion failure goes to the caller
                fut.set_exception(e)
            return
        if status == _ffi.E_CANCELLED:
            fut.cancel(payload.decode("utf-8", "replace"))
            return
        fut.set_exception(self.error(status, payload))

    def error(self, status: int, payload: bytes) -> BaseException:
        """The exception a failure outcome raises: the failing callback's own object when the done
        trampoline took it (``Failure``), else one built from the status and text."""
        if type(payload) is Failure:
            if payload.exc is not None:
                return payload.exc
            if status == E_CALLBACK and payload.display:
                return _errors.CallbackError(payload.display)
        message = payload.decode("utf-8", "replace")
        if status == E_CALLBACK:
            return _errors.CallbackError(message)
        return _errors.error_for(status, message)


def arm_cancel(state: CallState, call: int | None) -> None:
    """Hands the pending native ``call`` to ``state``; cancelling its future cancels and frees it."""

    def hook(fut: Any) -> None:
        if fut.cancelled():
            call, state.call = state.call, None
            state.cancel_tasks()
            if call:
                lib.nemo_relay_call_cancel(call)
                lib.nemo_relay_call_free(call)

    state.call = call
    state.future.add_done_callback(hook)


def current_call() -> CallState | None:
    return getattr(_tls, "call", None)


class enter:
    """Makes ``state`` the current call of this thread around a C call that may run callbacks."""

    __slots__ = ("state", "prev")

    def __init__(self, state: CallState | None) -> None:
        self.state = state

    def __enter__(self) -> None:
        self.prev = getattr(_tls, "call", None)
        if self.state is not None and self.state is not self.prev and self.state.parent is None:
            self.state.parent = self.prev
        _tls.call = self.state

    def __exit__(self, *a: object) -> None:
        _tls.call = self.prev


# ---- completing tokens ------------------------------------------------------------------------


#: Exceptions of failed callbacks by failure id, until the call receiving the failure takes its own
#: (``take_failure``) or the library drops the failure (``_release_failure``).
_failures: dict[int, BaseException] = {}
_next_failure_id = itertools.count(1).__next__


def _release_failure(ud: int | None) -> None:
    try:
        _failures.pop(ud, None)
    except Exception:  # interpreter shutdown
        pass


RELEASE_FAILURE = _ffi.FREE_FN(_release_failure)


def take_failure() -> BaseException | None:
    """The exception of the failure this thread's last error reports (read at once: a done trampoline,
    or right after the failing export), removed from the table; None when it carries no id of ours."""
    fid = _last_error_id()
    return _failures.pop(fid, None) if fid else None


class Failure(bytes):
    """The text of a failure outcome a done trampoline received, with what it read on its own thread:
    ``exc``, the failing callback's exception object (or None), and ``display``, the error's display text."""

    exc: BaseException | None = None
    display: str = ""


def fail(token: int, exc: BaseException, state: CallState | None, store: bool = True) -> None:
    """Completes ``token`` with ``exc``; with ``store``, the exception object travels with the failure
    (by id) to the call that receives it, which re-raises it. ``state`` is kept for the callers' sake."""
    message = str(exc)
    cls = type(exc)
    failure = {"type": cls.__name__, "message": message}
    if cls.__qualname__ != cls.__name__:
        failure["qualname"] = cls.__qualname__  # the display text names it, as the reference's does
    payload = _json.dumps(failure)
    if not store:
        _complete(token, E_CALLBACK, payload, len(payload))
        return
    fid = _next_failure_id()
    _failures[fid] = exc
    # On any failure to record it, the library runs RELEASE_FAILURE at once.
    _complete_failure(token, E_CALLBACK, payload, len(payload), byref(_ffi.FailureId(fid, fid, RELEASE_FAILURE)))


def succeed(token: int, payload: bytes) -> None:
    rc = _complete(token, OK, payload, len(payload))
    if rc != OK and rc != _ffi.E_MISUSE:
        log.debug("nemo_relay_complete failed: %s", _errors.last_error(rc))


#: ``_Resume``'s ``first`` for a coroutine none of whose steps ran yet.
_UNSTARTED = object()


class _Resume:
    """Continues a coroutine that was started inline, as if the task had run its first step.

    ``token`` (event injectors and sanitizers only) is entered around every later step, so events
    the coroutine emits there are delivered right after the event it runs for
    (``nemo_relay_token_enter``), as they are when emitted during the first step.
    """

    __slots__ = ("coro", "first", "token", "abandon")

    def __init__(self, coro: Any, first: Any, token: int | None, abandon: Callable[[], None]) -> None:
        self.coro = coro
        self.first = first
        self.token = token
        self.abandon = abandon

    def _step(self, fn: Callable[..., Any], arg: Any) -> Any:
        token = self.token
        if token is None:
            return fn(arg)
        _token_enter(token)  # a completed token enters nothing, and its leave then ends nothing
        try:
            return fn(arg)
        finally:
            _token_leave(token)

    def __await__(self) -> Any:
        coro, value = self.coro, self.first
        self.first = None
        if value is _UNSTARTED:  # handed over before its first step: take it here
            try:
                value = self._step(coro.send, None)
            except StopIteration as s:
                return s.value
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                # The task was destroyed while pending (its loop closed without cancelling it): its
                # done callback never runs, so answer the token here; an unanswered token would hold
                # its call, or every later event of its stack, forever.
                coro.close()
                self.abandon()
                raise
            except BaseException as e:  # noqa: BLE001 - forwarded into the coroutine (cancellation too)
                try:
                    value = self._step(coro.throw, e)
                except StopIteration as s:
                    return s.value
            else:
                try:
                    value = self._step(coro.send, sent)
                except StopIteration as s:
                    return s.value


async def _resume(coro: Any, first: Any, token: int | None, abandon: Callable[[], None]) -> Any:
    return await _Resume(coro, first, token, abandon)


async def _await_any(aw: Any) -> Any:
    return await aw


def run(
    token: int,
    produce: Callable[[], Any],
    finish: Callable[[Any], bytes],
    store: bool = True,
    nest: bool = False,
    home: asyncio.AbstractEventLoop | None = None,
) -> int:
    """Runs one Python callback and answers its token now, or later if its coroutine suspends.

    ``nest``: an event injector or sanitizer, whose later steps emit events inside it (``_Resume``);
    ``home`` is the loop that ran where it was registered (see ``_drive_elsewhere``).
    """
    state = getattr(_tls, "call", None)
    try:
        value = produce()
        if type(value) is CoroutineType or hasattr(value, "__await__"):
            if nest and running_loop() is None:
                return _drive_elsewhere(token, value, finish, home)
            return _drive(token, value, finish, state, store, nest)
    except BaseException as e:  # noqa: BLE001 - every failure goes back through the token
        fail(token, e, state, store)
        return OK
    try:
        payload = finish(value)
    except BaseException as e:  # noqa: BLE001
        _fail_result(token, e, state, store)
        return OK
    succeed(token, payload)
    return OK


def _fail_result(token: int, e: BaseException, state: CallState | None, store: bool) -> None:
    """Fails ``token`` because the callback's value could not be written. A value that holds itself
    fails the call as the reference's does: ``RuntimeError("internal error: ValueError: Failed to
    convert to JSON: circular reference detected")``, not the ``ValueError`` itself."""
    fail(token, e, state, store and not _json.is_circular_error(e))


#: The token of the managed LLM or tool callback (provider, tool function, execution intercept) that
#: runs in this context. It outlives the callback's first step (a coroutine's context is copied after
#: it is set), so a propagation capture after an ``await`` still names the call as its parent.
call_token: contextvars.ContextVar[int | None] = contextvars.ContextVar("nemo_relay_call_token", default=None)


def run_managed(token: int, produce: Callable[[], Any], finish: Callable[[Any], bytes], store: bool = True) -> int:
    """``run`` for the callbacks of a managed call: ``call_token`` is ``token`` while they run."""
    t = call_token.set(token)
    try:
        return run(token, produce, finish, store)
    finally:
        call_token.reset(t)


def _drive(
    token: int, aw: Any, finish: Callable[[Any], bytes], state: CallState | None, store: bool, nest: bool = False
) -> int:
    """Steps the coroutine inline (like an eager task); only a real suspension goes to the loop."""
    if state is not None and state.sync_only:
        # A chain helper called without a loop (docs/python.md, "Dual mode"): no awaitable may run, even one
        # that would finish without suspending.
        if type(aw) is CoroutineType:
            aw.close()
        fail(token, _needs_async(), state, store)
        return OK
    coro = aw if type(aw) is CoroutineType else _await_any(aw)
    ctx = contextvars.copy_context()
    try:
        first = ctx.run(coro.send, None)
    except StopIteration as s:
        try:
            payload = finish(s.value)
        except BaseException as e:  # noqa: BLE001
            _fail_result(token, e, state, store)
            return OK
        succeed(token, payload)
        return OK
    except BaseException as e:  # noqa: BLE001
        fail(token, e, state, store)
        return OK
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        fail(token, _needs_async(), state, store)
        return OK
    def abandon() -> None:
        fail(token, asyncio.CancelledError("the event loop was closed with the callback pending"), state, False)

    task = loop.create_task(_resume(coro, first, token if nest else None, abandon), context=ctx)
    if state is not None:
        state.add_task(task)
    task.add_done_callback(lambda t: _task_done(token, finish, state, store, t))
    # The library may cancel the token while the task runs (its call was cancelled, the runtime freed,
    # the execution intercept around it settled without it): the task is cancelled then.
    notice = _ffi.Done(DONE, add_slot(_TaskCancel(loop, task)), FREE)
    lib.nemo_relay_token_on_cancel(token, byref(notice))  # refused once completed: nothing to cancel then
    return PENDING


def positional_arity(fn: Any) -> int | None:
    """Positional parameters ``fn`` takes; None when it takes ``*args`` or cannot be inspected."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on this thread, if any (an event middleware's home loop)."""
    return asyncio._get_running_loop()


class _Fallback:
    """The binding's own event loop, on a daemon thread, for event middleware with nowhere else to run."""

    lock = threading.Lock()
    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls.lock:
            if cls.loop is None or cls.loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="nemo-relay-event-middleware", daemon=True).start()
                cls.loop = loop
            return cls.loop


class _Dispatch:
    """One asynchronous event-middleware coroutine handed to another thread's loop.

    Until the coroutine's first step, a ``_Guard`` travels with it (in the handle that starts it, then
    in the task's coroutine): when a loop closes first, dropping the handle or the task, the guard's
    finalizer hands the coroutine to the fallback loop, so the token is always answered. After its
    first step, a task destroyed by its loop fails the token (``_Resume``'s ``abandon``).
    """

    __slots__ = ("token", "coro", "finish", "ctx", "stepped")

    def __init__(self, token: int, coro: Any, finish: Callable[[Any], bytes], ctx: contextvars.Context) -> None:
        self.token = token
        self.coro = coro
        self.finish = finish
        self.ctx = ctx
        self.stepped = False

    def send_to(self, loop: asyncio.AbstractEventLoop) -> None:
        guard = _Guard()
        weakref.finalize(guard, self._unstarted)
        try:
            loop.call_soon_threadsafe(self._start, guard)
        except RuntimeError:  # closed meanwhile: the guard goes with this frame, and falls back
            pass

    def _unstarted(self) -> None:
        if not self.stepped:
            self.send_to(_Fallback.get())

    def _start(self, guard: _Guard) -> None:
        task = asyncio.get_running_loop().create_task(self._run(guard), context=self.ctx)
        task.add_done_callback(self._done)

    async def _run(self, guard: _Guard) -> Any:
        self.stepped = True
        del guard
        token = self.token

        def abandon() -> None:
            fail(token, asyncio.CancelledError("the event loop was closed with the callback pending"), None, False)

        return await _Resume(self.coro, _UNSTARTED, token, abandon)

    def _done(self, t: Any) -> None:
        if self.stepped:  # otherwise the guard's finalizer already handed it on
            _task_done(self.token, self.finish, None, False, t)


class _Guard:
    __slots__ = ("__weakref__",)


def _drive_elsewhere(
    token: int, aw: Any, finish: Callable[[Any], bytes], home: asyncio.AbstractEventLoop | None
) -> int:
    """An asynchronous event injector or sanitizer called where no loop runs (a plain thread, sync code):
    it runs on ``home`` (the loop that ran where it was registered) while that loop runs, else on the
    fallback loop, in a copy of the emitter's context (docs/middleware.md, "Event middleware")."""
    coro = aw if type(aw) is CoroutineType else _await_any(aw)
    d = _Dispatch(token, coro, finish, contextvars.copy_context())
    d.send_to(home if home is not None and home.is_running() else _Fallback.get())
    return PENDING

class _TaskCancel:
    """``nemo_relay_token_on_cancel`` for a callback running as a task: cancels the task on its loop.

    The task is held weakly: a task its closed loop dropped must still be destroyed (``_Resume`` then
    answers its token), not kept alive by a notice that may never run.
    """

    __slots__ = ("loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self.loop = loop
        self.task = weakref.ref(task)

    def on_done(self, status: int, payload: bytes) -> None:
        task = self.task()
        if task is None:
            return
        try:
            self.loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # the loop is closed: the task is gone with it
            pass


def _needs_async() -> BaseException:
    return _errors.InternalError("internal error: awaitable Python middleware requires an async caller")


def _task_done(token: int, finish: Callable[[Any], bytes], state: CallState | None, store: bool, t: Any) -> None:
    with enter(state):
        if t.cancelled():
            # Cancelled together with its call: the token is already completed as cancelled.
            fail(token, asyncio.CancelledError("cancelled"), state, False)
            return
        exc = t.exception()
        if exc is not None:
            fail(token, exc, state, store)
            return
        try:
            payload = finish(t.result())
        except BaseException as e:  # noqa: BLE001
            _fail_result(token, e, state, store)
            return
        succeed(token, payload)


# ---- trampolines ------------------------------------------------------------------------------


def _callback_tramp(token: int, ptr: int, n: int, ud: int) -> int:
    try:
        return _slots[ud](token, string_at(ptr, n) if ptr else b"null")
    except BaseException as e:  # noqa: BLE001 - never let an exception unwind into C
        try:
            fail(token, e, getattr(_tls, "call", None))
        except Exception:
            pass
        return OK


def _done_tramp(status: int, ptr: int, n: int, ud: int) -> None:
    try:
        if status == E_CALLBACK:
            # First thing: the failure's id and display text are this thread's last error while we run.
            exc = take_failure()
            payload = Failure(string_at(ptr, n) if ptr else b"")
            payload.exc = exc
            if exc is None:
                payload.display = _last_error_message().decode("utf-8", "replace")
            _slots[ud].on_done(status, payload)
            return
        _slots[ud].on_done(status, string_at(ptr, n) if ptr else b"")
    except BaseException:  # noqa: BLE001
        log.exception("nemo_relay: done callback failed")


def _subscriber_batch_tramp(ptr: int, n: int, count: int, ud: int) -> None:
    # One entry (one GIL acquisition) per batch the delivery thread took from its queue.
    try:
        fn = _slots.get(ud)
        if fn is not None and ptr:
            for line in string_at(ptr, n).split(b"\n", count)[:count]:
                fn(line)
    except BaseException:  # noqa: BLE001
        pass


LOG = _ffi.LOG_FN(_log_tramp)
CALLBACK = _ffi.CALLBACK_FN(_callback_tramp)
DONE = _ffi.DONE_FN(_done_tramp)
SUBSCRIBER = _ffi.SUBSCRIBER_BATCH_FN(_subscriber_batch_tramp)
FREE = _ffi.FREE_FN(_free_slot)


def callback_struct(handler: Callable[[int, bytes], int]) -> _ffi.Callback:
    return _ffi.Callback(CALLBACK, add_slot(handler), FREE)


def done_struct(state: "CallState") -> _ffi.Done:
    return _ffi.Done(DONE, add_slot(state), FREE)


def managed_structs(state: "CallState") -> tuple[Any, Any]:
    """The provider and done structs of one managed call, sharing one slot (``state``).

    The library copies both structs on entry, so each thread reuses one pair. The provider entry has
    no destructor: the done entry's destructor, which runs last, releases the slot.
    """
    ud = add_slot(state)
    pair = getattr(_tls, "structs", None)
    if pair is None:
        pair = _tls.structs = (_ffi.Callback(CALLBACK, 0), _ffi.Done(DONE, 0, FREE))
    pair[0].user_data = ud
    pair[1].user_data = ud
    return byref(pair[0]), byref(pair[1])


class SyncFuture:
    """The future of work run without a loop; every callback answers before the C call returns."""

    __slots__ = ("_done", "_result", "_exc")

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._exc: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, v: Any) -> None:
        self._done, self._result = True, v

    def set_exception(self, e: BaseException) -> None:
        self._done, self._exc = True, e

    def cancel(self, msg: Any = None) -> bool:
        self.set_exception(asyncio.CancelledError(msg))
        return True

    def result(self) -> Any:
        if self._exc is not None:
            raise self._exc
        return self._result

    def __await__(self) -> Any:
        if not self._done:
            raise _needs_async()
        return self.result()
        yield  # pragma: no cover - makes this a generator


class _SyncChain(CallState):
    __slots__ = ()
    sync_only = True


def run_chain(start: Callable[[Any], int], convert: Callable[[bytes], Any]) -> Any:
    """Runs one chain helper through ``start(done)`` under docs/python.md, "Dual mode".

    Without a running loop the chain runs now on this thread and its result (or exception) is
    returned (raised); a callback returning an awaitable fails the chain. Inside a loop the chain
    starts eagerly and an ``asyncio.Future`` is returned; cancelling it cancels the callbacks' tasks.
    """
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        state: CallState = _SyncChain(None, SyncFuture(), convert)
    else:
        state = CallState(loop, loop.create_future(), convert)
    done = _ffi.Done(DONE, add_slot(state), FREE)
    with enter(state):
        rc = start(byref(done))
    if rc != OK:
        raise _errors.last_error(rc)
    fut = state.future
    if loop is None:
        if not fut.done():  # pragma: no cover - the library completes synchronous chains inline
            raise _errors.InternalError("internal error: chain helper did not complete without a loop")
        return fut.result()
    if not fut.done():
        fut.add_done_callback(lambda f: state.cancel_tasks() if f.cancelled() else None)
    return fut


def null_callback() -> _ffi.Callback:
    return _ffi.Callback()


def loop_or_raise() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("no running event loop") from None


def dropped_events() -> int:
    out = ctypes.c_uint64()
    _errors.check(lib.nemo_relay_dropped_events(byref(out), runtime()))
    return out.value
