# SPDX-License-Identifier: Apache-2.0
"""Request and execution intercepts (docs/middleware.md, "Registries")."""

from __future__ import annotations

from typing import Any, Callable

from ._middleware import deregister_kind, register_kind

__all__ = [
    "register_llm_request",
    "deregister_llm_request",
    "register_llm_execution",
    "deregister_llm_execution",
    "register_tool_request",
    "deregister_tool_request",
    "register_tool_execution",
    "deregister_tool_execution",
    "register_llm_stream_execution",
    "deregister_llm_stream_execution",
    "LlmRequestIntercept",
    "LlmExecutionIntercept",
    "LlmStreamExecutionIntercept",
    "ToolRequestIntercept",
    "ToolExecutionIntercept",
]


def register_llm_request(name: str, priority: int, break_chain: bool, fn: Callable[..., Any]) -> None:
    register_kind(None, "llm_request", name, priority, break_chain, fn)


def deregister_llm_request(name: str) -> bool:
    return deregister_kind(None, "llm_request", name)


def register_llm_execution(name: str, priority: int, fn: Callable[..., Any]) -> None:
    register_kind(None, "llm_execution", name, priority, False, fn)


def deregister_llm_execution(name: str) -> bool:
    return deregister_kind(None, "llm_execution", name)


def register_tool_request(name: str, priority: int, break_chain: bool, fn: Callable[..., Any]) -> None:
    register_kind(None, "tool_request", name, priority, break_chain, fn)


def deregister_tool_request(name: str) -> bool:
    return deregister_kind(None, "tool_request", name)


def register_tool_execution(name: str, priority: int, fn: Callable[..., Any]) -> None:
    register_kind(None, "tool_execution", name, priority, False, fn)


def deregister_tool_execution(name: str) -> bool:
    return deregister_kind(None, "tool_execution", name)


def register_llm_stream_execution(name: str, priority: int, fn: Callable[..., Any]) -> None:
    """``fn(name, request, context, next)`` (or the legacy ``fn(request, next)``) returns an async
    iterator of chunks, or an awaitable of one; ``await next(request)`` gives the inner ``LlmStream``."""
    register_kind(None, "llm_stream_execution", name, priority, False, fn)


def deregister_llm_stream_execution(name: str) -> bool:
    return deregister_kind(None, "llm_stream_execution", name)


from ._types import Json as _Json  # noqa: E402

LlmRequestIntercept = Callable[..., Any]
LlmExecutionIntercept = Callable[..., Any]
LlmStreamExecutionIntercept = Callable[..., Any]
ToolRequestIntercept = Callable[..., _Json]
ToolExecutionIntercept = Callable[..., Any]
