# SPDX-License-Identifier: Apache-2.0
"""Value codecs and typed execute wrappers (docs/python.md, "Modules"): pure Python over llm/tools."""

from __future__ import annotations

import base64
import dataclasses
import io
import pickle
from typing import Any, Awaitable, Callable, Generic, TypeVar

from . import _json, llm, tools
from ._stream import _aiter, check_sync
from ._runtime import ScopeHandle
from ._types import LLMAttributes, ToolAttributes
from ._requests import LLMRequest
from ._contexts import ToolExecutionResult

__all__ = [
    "Codec",
    "JsonPassthrough",
    "DataclassCodec",
    "PydanticCodec",
    "BestEffortAnyCodec",
    "tool_execute",
    "llm_execute",
    "llm_stream_execute",
]

T = TypeVar("T")
TArgs = TypeVar("TArgs")
TResult = TypeVar("TResult")
TResponse = TypeVar("TResponse")
TChunk = TypeVar("TChunk")


class Codec(Generic[T]):
    def to_json(self, value: T) -> Any:
        raise NotImplementedError

    def from_json(self, data: Any) -> T:
        raise NotImplementedError


class JsonPassthrough(Codec[Any]):
    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, data: Any) -> Any:
        return data


class DataclassCodec(Codec[T]):
    def __init__(self, dc_cls: type[T]) -> None:
        self._cls = dc_cls

    def to_json(self, value: T) -> Any:
        return dataclasses.asdict(value)  # type: ignore[call-overload]

    def from_json(self, data: Any) -> T:
        return self._cls(**data)


class PydanticCodec(Codec[T]):
    def __init__(self, model_cls: type[T]) -> None:
        self.model_cls = model_cls

    def to_json(self, value: T) -> Any:
        return value.model_dump(mode="json")  # type: ignore[attr-defined]

    def from_json(self, data: Any) -> T:
        return self.model_cls.model_validate(data)  # type: ignore[attr-defined]


#: Classes encoded in this process, by their runtime type tag (``module.qualname:id``): only these are
#: rebuilt, so a payload can never name a class to instantiate.
_SEEN: dict[str, type] = {}


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _runtime_tag(cls: type) -> str:
    _SEEN[f"{_qual(cls)}:{id(cls)}"] = cls
    return f"{_qual(cls)}:{id(cls)}"


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles builtin data only (sets, bytes, containers, numbers): a pickle that names any global
    (a class, a function) is refused, so decoding a payload never runs code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}")


class BestEffortAnyCodec(Codec[Any]):
    """Encodes anything: a pydantic model or a dataclass by its fields, JSON as itself, else a base64
    pickle, else ``str()``; each tagged with its type. Decoding is best effort and never raises: a
    model or dataclass is rebuilt only if it was encoded in this process and its fields fit, a pickle
    only if it holds builtin data alone; anything else comes back as the raw value."""

    def to_json(self, value: Any) -> Any:
        cls = type(value)
        if hasattr(value, "model_dump") and hasattr(cls, "model_validate"):
            data = value.model_dump(mode="json")
            return {"__nv_pydantic__": _qual(cls), "__nv_runtime_type__": _runtime_tag(cls), "data": data}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = dataclasses.asdict(value)
            return {"__nv_dataclass__": _qual(cls), "__nv_runtime_type__": _runtime_tag(cls), "data": data}
        try:
            return _json.convert(value)
        except ValueError:
            pass
        try:
            return {"__nv_pickle__": _qual(cls), "data": base64.b64encode(pickle.dumps(value)).decode()}
        except Exception:  # noqa: BLE001 - an unpicklable value falls back to its text
            return {"__nv_fallback_str__": _qual(cls), "data": str(value)}

    def from_json(self, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            if "__nv_pydantic__" in data or "__nv_dataclass__" in data:
                cls = _SEEN.get(data.get("__nv_runtime_type__"))  # type: ignore[arg-type]
                fields = data.get("data")
                if cls is None or not isinstance(fields, dict):
                    return data
                if "__nv_pydantic__" in data:
                    return cls.model_validate(fields)  # type: ignore[attr-defined]
                return cls(**fields)
            if "__nv_pickle__" in data and isinstance(data.get("data"), str):
                raw = base64.b64decode(data["data"], validate=True)
                return _DataOnlyUnpickler(io.BytesIO(raw)).load()
        except Exception:  # noqa: BLE001 - best effort: what cannot be rebuilt stays the raw value
            return data
        return data


async def tool_execute(
    name: str,
    args: TArgs,
    func: Callable[[TArgs], Any],
    args_codec: Codec[TArgs],
    result_codec: Codec[TResult],
    *,
    handle: ScopeHandle | None = None,
    attributes: ToolAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    tool_call_id: str | None = None,
) -> ToolExecutionResult[TResult]:
    async def call(raw: Any) -> ToolExecutionResult[Any]:
        r = func(args_codec.from_json(raw))
        if hasattr(r, "__await__"):
            r = await r
        if not isinstance(r, ToolExecutionResult):
            raise TypeError("typed tool callback must return ToolExecutionResult")
        return ToolExecutionResult(result_codec.to_json(r.result), r.annotation)

    out = await tools.execute(
        name,
        args_codec.to_json(args),
        call,
        handle=handle,
        attributes=attributes,
        data=data,
        metadata=metadata,
        tool_call_id=tool_call_id,
    )
    return ToolExecutionResult(result_codec.from_json(out.result), out.annotation)


async def llm_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], Awaitable[TResponse] | TResponse],
    response_json_codec: Codec[TResponse],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    model_name: str | None = None,
    codec: Any = None,
    response_codec: Any = None,
) -> TResponse:
    async def call(req: LLMRequest) -> Any:
        r = func(req)
        if hasattr(r, "__await__"):
            r = await r
        return response_json_codec.to_json(r)  # type: ignore[arg-type]

    out = await llm.execute(
        name,
        request,
        call,
        handle=handle,
        attributes=attributes,
        data=data,
        metadata=metadata,
        model_name=model_name,
        codec=codec,
        response_codec=response_codec,
    )
    return response_json_codec.from_json(out)


async def llm_stream_execute(
    name: str,
    request: LLMRequest,
    func: Callable[[LLMRequest], Any],
    collector: Callable[[TChunk], None] | None,
    finalizer: Callable[[], TResponse] | None,
    chunk_json_codec: Codec[TChunk],
    response_json_codec: Codec[TResponse],
    *,
    handle: ScopeHandle | None = None,
    attributes: LLMAttributes | None = None,
    data: Any = None,
    metadata: Any = None,
    model_name: str | None = None,
    codec: Any = None,
    response_codec: Any = None,
) -> llm.LlmStream:
    """``func`` yields typed chunks and the collector gets decoded chunks; the stream yields JSON."""
    check_sync(collector, "collector")
    check_sync(finalizer, "finalizer")

    def call(req: LLMRequest) -> Any:
        it = _aiter(func(req))

        async def chunks() -> Any:
            async for c in it:
                yield chunk_json_codec.to_json(c)

        return chunks()

    coll = None
    if collector is not None:

        def coll(chunk: Any) -> None:
            collector(chunk_json_codec.from_json(chunk))

    fin = None
    if finalizer is not None:

        def fin() -> Any:
            return response_json_codec.to_json(finalizer())

    return await llm.stream_execute(
        name,
        request,
        call,
        coll,
        fin,
        handle=handle,
        attributes=attributes,
        data=data,
        metadata=metadata,
        model_name=model_name,
        codec=codec,
        response_codec=response_codec,
    )
