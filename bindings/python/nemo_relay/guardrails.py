# SPDX-License-Identifier: Apache-2.0
"""Conditional-execution and sanitize guardrails (docs/middleware.md, "Registries")."""

from __future__ import annotations

from typing import Any, Callable

from ._middleware import deregister_kind, register_kind

__all__ = [
    "register_llm_conditional_execution",
    "deregister_llm_conditional_execution",
    "register_tool_conditional_execution",
    "deregister_tool_conditional_execution",
    "register_llm_sanitize_request",
    "deregister_llm_sanitize_request",
    "register_llm_sanitize_response",
    "deregister_llm_sanitize_response",
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
]


def register_llm_conditional_execution(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "llm_conditional_execution", name, priority, False, guardrail)


def deregister_llm_conditional_execution(name: str) -> bool:
    return deregister_kind(None, "llm_conditional_execution", name)


def register_tool_conditional_execution(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "tool_conditional_execution", name, priority, False, guardrail)


def deregister_tool_conditional_execution(name: str) -> bool:
    return deregister_kind(None, "tool_conditional_execution", name)


def register_llm_sanitize_request(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "llm_sanitize_request", name, priority, False, guardrail)


def deregister_llm_sanitize_request(name: str) -> bool:
    return deregister_kind(None, "llm_sanitize_request", name)


def register_llm_sanitize_response(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "llm_sanitize_response", name, priority, False, guardrail)


def deregister_llm_sanitize_response(name: str) -> bool:
    return deregister_kind(None, "llm_sanitize_response", name)


def register_tool_sanitize_request(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "tool_sanitize_request", name, priority, False, guardrail)


def deregister_tool_sanitize_request(name: str) -> bool:
    return deregister_kind(None, "tool_sanitize_request", name)


def register_tool_sanitize_response(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "tool_sanitize_response", name, priority, False, guardrail)


def deregister_tool_sanitize_response(name: str) -> bool:
    return deregister_kind(None, "tool_sanitize_response", name)


def register_mark_sanitize(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "mark_sanitize", name, priority, False, guardrail)


def deregister_mark_sanitize(name: str) -> bool:
    return deregister_kind(None, "mark_sanitize", name)


def register_scope_sanitize_start(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "scope_sanitize_start", name, priority, False, guardrail)


def deregister_scope_sanitize_start(name: str) -> bool:
    return deregister_kind(None, "scope_sanitize_start", name)


def register_scope_sanitize_end(name: str, priority: int, guardrail: Callable[..., Any]) -> None:
    register_kind(None, "scope_sanitize_end", name, priority, False, guardrail)


def deregister_scope_sanitize_end(name: str) -> bool:
    return deregister_kind(None, "scope_sanitize_end", name)
