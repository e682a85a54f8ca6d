# SPDX-License-Identifier: Apache-2.0
"""What middleware receives and returns: intercept outcomes, pending marks, tool results, execution and
codec contexts (docs/python.md, docs/middleware.md)."""

from __future__ import annotations

from typing import Any, Callable, Generic

from . import _json
from ._types import Json, LogSeverity, _not_instance, severity_arg, _SEVERITY_BY_LABEL, T
from ._requests import AnnotatedLLMRequest, LLMRequest, request_arg


# ---- intercept outcomes, pending marks, tool results ------------------------------------------


class PendingMarkSpec:
    __slots__ = ("name", "category", "category_profile", "data", "metadata", "data_schema", "severity")

    def __init__(
        self,
        name: str,
        category: str | None = None,
        category_profile: Json = None,
        data: Json = None,
        metadata: Json = None,
        data_schema: Json = None,
        severity: LogSeverity | None = None,
    ) -> None:
        for k, v in (
            ("name", name),
            ("category", category),
            ("category_profile", _json.convert(category_profile)),
            ("data", _json.convert(data)),
            ("metadata", _json.convert(metadata)),
            ("data_schema", _json.convert(data_schema)),
            ("severity", severity_arg(severity)),
        ):
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'PendingMarkSpec' objects is not writable")

    def _wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "category_profile": self.category_profile,
            "data": self.data,
            "metadata": self.metadata,
            "data_schema": self.data_schema,
            "severity": self.severity.label if self.severity is not None else None,
        }


def pending_mark_from_wire(d: dict[str, Any]) -> PendingMarkSpec:
    m = PendingMarkSpec.__new__(PendingMarkSpec)
    for k in ("name", "category", "category_profile", "data", "metadata", "data_schema"):
        object.__setattr__(m, k, d.get(k))
    object.__setattr__(m, "severity", _SEVERITY_BY_LABEL.get(d.get("severity")))  # type: ignore[arg-type]
    return m


def pending_marks_wire(marks: Any) -> list[dict[str, Any]]:
    out = []
    for m in marks or []:
        if not isinstance(m, PendingMarkSpec):
            raise _not_instance(m, "PendingMarkSpec")
        out.append(m._wire())
    return out


class LLMRequestInterceptOutcome:
    __slots__ = ("request", "annotated_request", "pending_marks", "optimization_contributions")

    def __init__(
        self,
        request: LLMRequest,
        annotated_request: AnnotatedLLMRequest | None = None,
        pending_marks: list[PendingMarkSpec] | None = None,
        optimization_contributions: list[dict[str, Any]] | None = None,
    ) -> None:
        request_arg(request)
        if annotated_request is not None and not isinstance(annotated_request, AnnotatedLLMRequest):
            raise _not_instance(annotated_request, "AnnotatedLLMRequest")
        pending_marks_wire(pending_marks)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "annotated_request", annotated_request)
        object.__setattr__(self, "pending_marks", list(pending_marks or []))
        object.__setattr__(self, "optimization_contributions", list(optimization_contributions or []))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'LLMRequestInterceptOutcome' objects is not writable")


class ToolExecutionResult(Generic[T]):
    """The canonical result of a tool callback and of ``tools.execute``."""

    __slots__ = ("result", "annotation")

    def __init__(self, result: T, annotation: Json = None) -> None:
        object.__setattr__(self, "result", result)
        object.__setattr__(self, "annotation", annotation)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionResult' objects is not writable")

    def __repr__(self) -> str:
        return f"ToolExecutionResult(result={self.result!r}, annotation={self.annotation!r})"


class ToolExecutionInterceptOutcome:
    __slots__ = ("result", "annotation", "pending_marks")

    def __init__(self, result: Json, pending_marks: list[PendingMarkSpec] | None = None, *, annotation: Json = None):
        pending_marks_wire(pending_marks)
        object.__setattr__(self, "result", result)
        object.__setattr__(self, "annotation", annotation)
        object.__setattr__(self, "pending_marks", list(pending_marks or []))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionInterceptOutcome' objects is not writable")


class ToolExecutionContext:
    __slots__ = ("tool_name", "args", "tool_call_id")

    def __init__(self, tool_name: str, args: Json, tool_call_id: str | None) -> None:
        object.__setattr__(self, "tool_name", tool_name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "tool_call_id", tool_call_id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute '{name}' of 'ToolExecutionContext' objects is not writable")

    def __repr__(self) -> str:
        return f"ToolExecutionContext(tool_name={self.tool_name!r}, tool_call_id={self.tool_call_id!r})"


# ---- codec contexts ---------------------------------------------------------------------------


class LlmCodecIdentity:
    __slots__ = ("kind", "id")

    def __init__(self, kind: str, id: str | None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "id", id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"LlmCodecIdentity(kind={self.kind!r}, id={self.id!r})"


class _CodecContext:
    __slots__ = ("codec", "_codec_obj")

    def __init__(self, wire: Any, codec_obj: Any = None) -> None:
        wire = wire if isinstance(wire, dict) else {}
        object.__setattr__(self, "codec", LlmCodecIdentity(wire.get("kind", "none"), wire.get("id")))
        object.__setattr__(self, "_codec_obj", codec_obj)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def resolve_codec(self) -> Any:
        if self.codec.kind == "none":
            return None
        if self._codec_obj is not None:
            return self._codec_obj
        if self.codec.kind == "builtin" and self.codec.id and builtin_codec is not None:
            return builtin_codec(self.codec.id)
        return None


#: Finds a built-in codec by id. ``codecs`` (a layer above this module: it builds on these types) sets it
#: when it is imported, which ``nemo_relay/__init__.py`` does before any call can make a context.
builtin_codec: Callable[[str], Any] | None = None


class LlmSanitizeRequestContext(_CodecContext):
    pass


class LlmSanitizeResponseContext(_CodecContext):
    pass


LlmRequestContext = LlmSanitizeRequestContext
LlmResponseContext = LlmSanitizeResponseContext


class LlmExecutionContext:
    __slots__ = ("request_codec", "response_codec")

    def __init__(self, wire: Any) -> None:
        wire = wire if isinstance(wire, dict) else {}
        object.__setattr__(self, "request_codec", LlmRequestContext(wire.get("request_codec")))
        object.__setattr__(self, "response_codec", LlmResponseContext(wire.get("response_codec")))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)
