# SPDX-License-Identifier: Apache-2.0
"""NemoRelay for Python: a ctypes binding over ``libnemorelay`` mirroring the ``nemo-relay`` package.

Set ``NEMO_RELAY_LIB_PATH`` to the built library (or its directory) to choose which one is loaded.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from . import _errors, _ffi
from ._errors import (
    AlreadyExistsError,
    CallbackError,
    CallCancelledError,
    FlushTimeoutError,
    GuardrailRejectedError,
    InternalError,
    InvalidArgumentError,
    InvalidJSONError,
    MisuseError,
    NemoRelayError,
    NotFoundError,
    ScopeStackEmptyError,
    VersionError,
)
from ._runtime import (
    LLMHandle,
    ScopeHandle,
    ScopeStack,
    ToolHandle,
    _stack_var,
    call_token as _call_token,
    current_stack,
    lib,
    new_stack,
)
from ._types import (
    AnnotatedLLMRequest,
    AnnotatedLLMResponse,
    DataSchema,
    Event,
    EventMetadata,
    EventMetadataScalar,
    EventMetadataValue,
    EventSanitizeFields,
    Json,
    JsonObject,
    JsonPrimitive,
    JsonValue,
    LLMAttributes,
    LLMRequest,
    LLMRequestInterceptOutcome,
    LlmCodecIdentity,
    LlmExecutionContext,
    LlmRequestContext,
    LlmResponseContext,
    LlmSanitizeRequestContext,
    LlmSanitizeResponseContext,
    LogSeverity,
    MarkEvent,
    PendingMarkSpec,
    ScopeAttributes,
    ScopeEvent,
    ScopeType,
    ToolAttributes,
    ToolExecutionContext,
    ToolExecutionInterceptOutcome,
    ToolExecutionResult,
    UnsupportedBehavior,
)

from . import (  # noqa: E402  (every submodule is imported eagerly, like the reference)
    codecs,
    event_metadata,
    guardrails,
    intercepts,
    llm,
    scope,
    scope_local,
    subscribers,
    tools,
    typed,
)
from .intercepts import (  # noqa: E402
    LlmExecutionIntercept,
    LlmRequestIntercept,
    LlmStreamExecutionIntercept,
    ToolExecutionIntercept,
    ToolRequestIntercept,
)

from .llm import LlmStream  # noqa: E402
from ._propagation import (  # noqa: E402
    PropagationContext,
    capture_propagation_context,
    capture_propagation_context_with_root,
    capture_rootless_propagation_context,
    capture_traceparent,
    create_scope_stack_from_propagation,
)
from ._exporters import (  # noqa: E402
    AtifExporter,
    AtofExporter,
    AtofExporterConfig,
    AtofExporterMode,
    AtofStreamSinkConfig,
)
from ._metrics import MetricKind, MetricMeasurement, MetricValueType  # noqa: E402
from ._otel import (  # noqa: E402
    OpenTelemetryConfig,
    OpenTelemetryFileSinkConfig,
    OpenTelemetryRuntimeDiagnostic,
    OpenTelemetryRuntimeDiagnostics,
    OpenTelemetrySubscriber,
)

__version__ = "0.9.0"

#: The C library's version string, e.g. "0.8.0".
LIBRARY_VERSION: str = lib.nemo_relay_version().decode()

ToolSanitizeGuardrail = Callable[[str, Json], Json]
ToolConditionalExecutionGuardrail = Callable[[str, Json], Any]
LlmSanitizeRequestGuardrail = Callable[..., Any]
LlmSanitizeResponseGuardrail = Callable[..., Any]
LlmConditionalExecutionGuardrail = Callable[[LLMRequest], Any]
EventSanitizeGuardrail = Callable[[Event, EventSanitizeFields], Any]
EventMetadataInjectorCallback = Callable[[Event], EventMetadata]


# ---- scope-stack helpers (docs/python.md, "Scope stacks") ----------------------------------------


def get_scope_stack() -> ScopeStack:
    """The current context's stack, created if missing."""
    return current_stack()


def scope_stack_active() -> bool:
    """Whether the current context has a stack yet (never creates one)."""
    return _stack_var.get(None) is not None


def create_scope_stack() -> ScopeStack:
    """A new isolated stack with its own root; not installed."""
    return new_stack()


@contextmanager
def use_scope_stack(stack: ScopeStack) -> Iterator[ScopeStack]:
    """Installs ``stack`` for the block, then restores the previous one."""
    if not isinstance(stack, ScopeStack):
        raise TypeError(f"'{type(stack).__name__}' object is not an instance of 'ScopeStack'")
    token = _stack_var.set(stack)
    # A managed call's callback that installs another stack no longer captures under that call.
    call = _call_token.set(None)
    try:
        yield stack
    finally:
        _call_token.reset(call)
        _stack_var.reset(token)


def set_thread_scope_stack(stack: ScopeStack) -> None:
    """Installs ``stack`` for this thread (its current context and its native default slot)."""
    if not isinstance(stack, ScopeStack):
        raise TypeError(f"'{type(stack).__name__}' object is not an instance of 'ScopeStack'")
    _stack_var.set(stack)
    _errors.check(lib.nemo_relay_stack_set_thread_default(stack._handle()))


def propagate_scope_to_thread() -> ScopeStack:
    """The current stack, to share with a worker thread (``set_thread_scope_stack`` there)."""
    s = _stack_var.get(None)
    if s is None:
        raise RuntimeError(
            "no active scope stack in current context; call a nemo_relay scope API (or get_scope_stack()) first"
        )
    return s


def fork_asyncio_context() -> contextvars.Context:
    """A copy of the current context holding an isolated child of the current stack."""
    child = new_stack(current_stack())
    ctx = contextvars.copy_context()
    ctx.run(_stack_var.set, child)
    ctx.run(_call_token.set, None)
    return ctx


__all__ = [
    "AlreadyExistsError",
    "AtifExporter",
    "AtofExporter",
    "AtofExporterConfig",
    "AtofExporterMode",
    "AtofStreamSinkConfig",
    "MetricKind",
    "MetricMeasurement",
    "MetricValueType",
    "OpenTelemetryConfig",
    "OpenTelemetryFileSinkConfig",
    "OpenTelemetryRuntimeDiagnostic",
    "OpenTelemetryRuntimeDiagnostics",
    "OpenTelemetrySubscriber",
    "AnnotatedLLMRequest",
    "AnnotatedLLMResponse",
    "CallCancelledError",
    "CallbackError",
    "DataSchema",
    "Event",
    "EventMetadata",
    "EventMetadataInjectorCallback",
    "EventMetadataScalar",
    "EventMetadataValue",
    "EventSanitizeFields",
    "EventSanitizeGuardrail",
    "FlushTimeoutError",
    "GuardrailRejectedError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidJSONError",
    "Json",
    "JsonObject",
    "JsonPrimitive",
    "JsonValue",
    "LLMAttributes",
    "LLMHandle",
    "LLMRequest",
    "LLMRequestInterceptOutcome",
    "LlmCodecIdentity",
    "LlmConditionalExecutionGuardrail",
    "LlmExecutionContext",
    "LlmExecutionIntercept",
    "LlmRequestContext",
    "LlmRequestIntercept",
    "LlmResponseContext",
    "LlmSanitizeRequestContext",
    "LlmSanitizeRequestGuardrail",
    "LlmSanitizeResponseContext",
    "LlmSanitizeResponseGuardrail",
    "LlmStreamExecutionIntercept",
    "LlmStream",
    "LogSeverity",
    "MarkEvent",
    "MisuseError",
    "NemoRelayError",
    "NotFoundError",
    "PendingMarkSpec",
    "PropagationContext",
    "ScopeAttributes",
    "ScopeEvent",
    "ScopeHandle",
    "ScopeStack",
    "ScopeStackEmptyError",
    "ScopeType",
    "ToolAttributes",
    "ToolConditionalExecutionGuardrail",
    "ToolExecutionContext",
    "ToolExecutionIntercept",
    "ToolExecutionInterceptOutcome",
    "ToolExecutionResult",
    "ToolHandle",
    "ToolRequestIntercept",
    "ToolSanitizeGuardrail",
    "UnsupportedBehavior",
    "VersionError",
    "capture_propagation_context",
    "capture_propagation_context_with_root",
    "capture_rootless_propagation_context",
    "capture_traceparent",
    "codecs",
    "create_scope_stack",
    "create_scope_stack_from_propagation",
    "event_metadata",
    "fork_asyncio_context",
    "get_scope_stack",
    "guardrails",
    "intercepts",
    "llm",
    "propagate_scope_to_thread",
    "scope",
    "scope_local",
    "scope_stack_active",
    "set_thread_scope_stack",
    "subscribers",
    "tools",
    "typed",
    "use_scope_stack",
]

_ = _ffi
