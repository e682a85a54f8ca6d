# SPDX-License-Identifier: Apache-2.0
"""Scope-owned twins of every registry and of subscribers (docs/scopes.md, "Scope-local registrations").

Parameter names are the reference's: ``fn`` for intercepts, ``guardrail`` for conditional execution
and sanitizers, ``injector`` for metadata injectors, ``callback`` for subscribers."""

from __future__ import annotations

from typing import Any, Callable

from ._middleware import deregister_kind, register_kind
from ._runtime import ScopeHandle
from .subscribers import _deregister_subscriber, _register_subscriber

__all__ = [
    "register_llm_request",
    "deregister_llm_request",
    "register_llm_execution",
    "deregister_llm_execution",
    "register_tool_request",
    "deregister_tool_request",
    "register_tool_execution",
    "deregister_tool_execution",
    "register_llm_conditional_execution",
    "deregister_llm_conditional_execution",
    "register_llm_sanitize_request",
    "deregister_llm_sanitize_request",
    "register_llm_sanitize_response",
    "deregister_llm_sanitize_response",
    "register_tool_conditional_execution",
    "deregister_tool_conditional_execution",
    "register_tool_sanitize_request",
    "deregister_tool_sanitize_request",
    "register_tool_sanitize_response",
    "deregister_tool_sanitize_response",
    "register_mark_sanitize",
    "deregister_mark_sanitize",
    "register_scope_sanitize_start",
    "deregister_scope_sanitize_start",
    "register_scope_sanitize_end",
    "deregister_scope_sanitize_end",
    "register_event_metadata_injector",
    "deregister_event_metadata_injector",
    "register_llm_stream_execution",
    "deregister_llm_stream_execution",
    "register_subscriber",
    "deregister_subscriber",
]


def register_llm_request(
    scope_handle: ScopeHandle, name: str, priority: int, break_chain: bool, fn: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "llm_request", name, priority, break_chain, fn)


def deregister_llm_request(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_request", name)


def register_llm_execution(scope_handle: ScopeHandle, name: str, priority: int, fn: Callable[..., Any]) -> None:
    register_kind(scope_handle, "llm_execution", name, priority, False, fn)


def deregister_llm_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_execution", name)


def register_tool_request(
    scope_handle: ScopeHandle, name: str, priority: int, break_chain: bool, fn: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "tool_request", name, priority, break_chain, fn)


def deregister_tool_request(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "tool_request", name)


def register_tool_execution(scope_handle: ScopeHandle, name: str, priority: int, fn: Callable[..., Any]) -> None:
    register_kind(scope_handle, "tool_execution", name, priority, False, fn)


def deregister_tool_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "tool_execution", name)


def register_llm_conditional_execution(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "llm_conditional_execution", name, priority, False, guardrail)


def deregister_llm_conditional_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_conditional_execution", name)


def register_llm_sanitize_request(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "llm_sanitize_request", name, priority, False, guardrail)


def deregister_llm_sanitize_request(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_sanitize_request", name)


def register_llm_sanitize_response(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "llm_sanitize_response", name, priority, False, guardrail)


def deregister_llm_sanitize_response(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_sanitize_response", name)


def register_tool_conditional_execution(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "tool_conditional_execution", name, priority, False, guardrail)


def deregister_tool_conditional_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "tool_conditional_execution", name)


def register_tool_sanitize_request(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "tool_sanitize_request", name, priority, False, guardrail)


def deregister_tool_sanitize_request(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "tool_sanitize_request", name)


def register_tool_sanitize_response(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "tool_sanitize_response", name, priority, False, guardrail)


def deregister_tool_sanitize_response(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "tool_sanitize_response", name)


def register_mark_sanitize(scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(scope_handle, "mark_sanitize", name, priority, False, guardrail)


def deregister_mark_sanitize(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "mark_sanitize", name)


def register_scope_sanitize_start(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "scope_sanitize_start", name, priority, False, guardrail)


def deregister_scope_sanitize_start(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "scope_sanitize_start", name)


def register_scope_sanitize_end(
    scope_handle: ScopeHandle, name: str, priority: int, guardrail: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "scope_sanitize_end", name, priority, False, guardrail)


def deregister_scope_sanitize_end(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "scope_sanitize_end", name)


def register_event_metadata_injector(
    scope_handle: ScopeHandle, name: str, priority: int, injector: Callable[..., Any]
) -> None:
    register_kind(scope_handle, "event_metadata_injector", name, priority, False, injector)


def deregister_event_metadata_injector(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "event_metadata_injector", name)


def register_llm_stream_execution(scope_handle: ScopeHandle, name: str, priority: int, fn: Callable[..., Any]) -> None:
    register_kind(scope_handle, "llm_stream_execution", name, priority, False, fn)


def deregister_llm_stream_execution(scope_handle: ScopeHandle, name: str) -> bool:
    return deregister_kind(scope_handle, "llm_stream_execution", name)


def register_subscriber(scope_handle: ScopeHandle, name: str, callback: Callable[[Any], None]) -> None:
    _register_subscriber(scope_handle, name, callback)


def deregister_subscriber(scope_handle: ScopeHandle, name: str) -> bool:
    return _deregister_subscriber(scope_handle, name)
