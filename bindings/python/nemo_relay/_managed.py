# SPDX-License-Identifier: Apache-2.0
"""One owner class per native handle: it frees the handle once, on close or when collected."""

from __future__ import annotations

from typing import Any, Callable


class Managed:
    """Owns one native pointer: idempotent ``close()``, ``with`` support, ``__del__`` as a fallback.

    ``_parent`` keeps whatever the handle depends on alive so garbage collection never frees a parent
    first.
    """

    __slots__ = ("_ptr", "_parent", "__weakref__")
    _free: Callable[[int], None]
    _what = "handle"

    def __init__(self, ptr: int, parent: Any = None) -> None:
        self._ptr: int | None = ptr
        self._parent = parent

    def _handle(self) -> int:
        p = self._ptr
        if p is None:
            raise ValueError(f"{self._what} is closed")
        return p

    def close(self) -> None:
        p, self._ptr = self._ptr, None
        if p:
            try:
                type(self)._free(p)
            except Exception:  # interpreter shutdown: the library may already be gone
                pass

    def _consume(self) -> int:
        """Hands the pointer over to C; the wrapper no longer frees it."""
        p = self._handle()
        self._ptr = None
        return p

    def __enter__(self) -> "Managed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
