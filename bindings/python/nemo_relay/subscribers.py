# SPDX-License-Identifier: Apache-2.0
"""Event subscribers and the delivery barrier (docs/middleware.md, "Subscribers"; docs/python.md, "Flush")."""

from __future__ import annotations

import asyncio
import inspect
import logging
from ctypes import byref, c_bool
from typing import Any, Callable

from . import _errors
from ._middleware import owner_arg
from ._runtime import FREE, SUBSCRIBER, add_slot, cstr, lib, name_arg, runtime
from ._events import event_from_line

__all__ = ["register", "deregister", "flush", "flush_async"]

log = logging.getLogger("nemo_relay")


def _deliverer(callback: Callable[[Any], None]) -> Callable[[bytes], None]:
    def deliver(line: bytes) -> None:
        try:
            callback(event_from_line(line.decode("utf-8")))
        except BaseException as e:  # noqa: BLE001 - a delivery thread has nobody to raise to
            # BaseException too (SystemExit, KeyboardInterrupt): it would otherwise end the
            # delivery of the rest of this batch of events.
            log.error("Event subscriber error: %s: %s", type(e).__name__, e)

    return deliver


def _register_subscriber(owner: Any, name: str, callback: Callable[[Any], None]) -> None:
    o = owner_arg(owner)
    if inspect.iscoroutinefunction(callback):
        # docs/python.md, "Synchronous callbacks": an async subscriber would never be awaited; refuse it up front.
        raise TypeError("subscriber callbacks must be synchronous; an async def subscriber would never be awaited")
    n = name_arg(name)
    ud = add_slot(_deliverer(callback))
    _errors.check(lib.nemo_relay_subscriber_register_batch(runtime(), o, n, SUBSCRIBER, ud, FREE))


def _deregister_subscriber(owner: Any, name: str) -> bool:
    o = owner_arg(owner)
    removed = c_bool(False)
    _errors.check(lib.nemo_relay_subscriber_deregister(byref(removed), runtime(), o, cstr(name)))
    return removed.value


def register(name: str, callback: Callable[[Any], None]) -> None:
    """Calls ``callback(event)`` on its own delivery thread for every event queued from now on."""
    _register_subscriber(None, name, callback)


def deregister(name: str) -> bool:
    return _deregister_subscriber(None, name)


def _flush_blocking() -> None:
    _errors.check(lib.nemo_relay_flush(runtime(), -1))


def flush() -> None:
    """Blocks until every event queued before the call was delivered."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _flush_blocking()
        return
    raise RuntimeError(
        "subscribers.flush() cannot block a running asyncio event loop; use 'await subscribers.flush_async()'"
    )


async def flush_async() -> None:
    """The same barrier without blocking the loop."""
    await asyncio.get_running_loop().run_in_executor(None, _flush_blocking)
