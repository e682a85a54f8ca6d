# SPDX-License-Identifier: Apache-2.0
"""Value codecs and typed execute wrappers (docs/python.md, "Modules"): pure Python over llm/tools."""

from __future__ import annotations

import base64
import dataclasses
import pickle
from typing import Any, Awaitable, Callable, Generic, TypeVar

from . import llm, tools
from ._stream import _aiter, check_sync
from ._runtime import ScopeHandle
from ._types import LLMAttributes, LLMRequest, ToolAttributes, ToolExecutionResult

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


_SEEN: dict[str, type] = {}
_SAFE_PICKLE = (dict, list, tuple, set, frozenset, str, int, float, bool, bytes, type(None))


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class BestEffortAnyCodec(Codec[Any]):
    """Tries pydantic, dataclass, plain JSON, a base64 pickle, then ``str()``."""

    def to_json(self, value: Any) -> Any:
        if hasattr(value, "model_dump") and hasattr(type(value), "model_validate"):
            _SEEN[_qual(type(value))] = type(value)
            return {"__nv_pydantic__": _qual(type(value)), "data": value.model_dump(mode="json")}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            _SEEN[_qual(type(value))] = type(value)
            return {"__nv_dataclass__": _qual(type(value)), "data": dataclasses.asdict(value)}
        try:
            from . import _json

            return _json.convert(value)
        except ValueError:
            pass
        try:
            return {"__nv_pickle__": base64.b64encode(pickle.dumps(value)).decode()}
        except Exception:
            return {"__nv_fallback_str__": str(value)}

    def from_json(self, data: Any) -> Any:
        if isinstance(data, dict):
            if "__nv_pydantic__" in data and data["__nv_pydantic__"] in _SEEN:
                return _SEEN[data["__nv_pydantic__"]].model_validate(data.get("data"))  # type: ignore[attr-defined]
            if "__nv_dataclass__" in data and data["__nv_dataclass__"] in _SEEN:
                return _SEEN[data["__nv_dataclass__"]](**data.get("data", {}))
            if "__nv_pickle__" in data:
                obj = pickle.loads(base64.b64decode(data["__nv_pickle__"]))
                return obj if isinstance(obj, _SAFE_PICKLE) else data
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
