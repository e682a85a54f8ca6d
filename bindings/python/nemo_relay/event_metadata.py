# SPDX-License-Identifier: Apache-2.0
"""Event metadata injectors (docs/middleware.md, "Event middleware")."""

from __future__ import annotations

from typing import Any, Callable

from ._middleware import deregister_kind, register_kind

__all__ = ["register_injector", "deregister_injector"]


def register_injector(name: str, priority: int, injector: Callable[..., Any]) -> None:
    register_kind(None, "event_metadata_injector", name, priority, False, injector)


def deregister_injector(name: str) -> bool:
    return deregister_kind(None, "event_metadata_injector", name)
