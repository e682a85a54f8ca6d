# SPDX-License-Identifier: Apache-2.0
"""Provider codecs: the built-ins through the C entry points, custom Python codecs as callbacks."""

from __future__ import annotations

import logging
import weakref
from ctypes import byref, c_size_t, c_void_p
from typing import Any, Protocol, runtime_checkable

from . import _contexts, _errors, _ffi, _json
from ._managed import Managed
from ._runtime import callback_struct, lib, run
from ._types import _not_instance
from ._requests import AnnotatedLLMRequest, AnnotatedLLMResponse, LLMRequest

__all__ = [
    "AnnotatedLLMRequest",
    "LlmCodec",
    "LlmResponseCodec",
    "OpenAIChatCodec",
    "OpenAIResponsesCodec",
    "AnthropicMessagesCodec",
    "GeminiGenerateContentCodec",
    "OCIGenAIChatCodec",
    "BedrockConverseCodec",
]

log = logging.getLogger("nemo_relay")


@runtime_checkable
class LlmCodec(Protocol):
    """A request codec: ``decode(request)`` and ``encode(annotated, original)``."""

    def decode(self, request: LLMRequest) -> AnnotatedLLMRequest: ...

    def encode(self, annotated: AnnotatedLLMRequest, original: LLMRequest) -> LLMRequest: ...


@runtime_checkable
class LlmResponseCodec(Protocol):
    """A response codec: ``decode_response(response)``."""

    def decode_response(self, response: Any) -> AnnotatedLLMResponse: ...


class _NativeCodec(Managed):
    __slots__ = ()
    _free = lib.nemo_relay_codec_free
    _what = "codec"


def _call_out(fn: Any, *args: Any) -> bytes:
    out, n = c_void_p(), c_size_t()
    _errors.check(fn(byref(out), byref(n), *args))
    return _ffi.take_string(out, n)


_decode = lib.nemo_relay_codec_decode
_encode = lib.nemo_relay_codec_encode


class _BuiltinCodec:
    """A built-in codec; its three methods call the C entry points."""

    _id = ""
    __slots__ = ("_native", "__weakref__")

    def __init_subclass__(cls, **kw: Any) -> None:
        if cls.__module__ != __name__:
            raise TypeError(f"type 'builtins.{cls.__mro__[1].__name__}' is not an acceptable base type")
        super().__init_subclass__(**kw)

    def __init__(self) -> None:
        out = c_void_p()
        _errors.check(lib.nemo_relay_codec_builtin(byref(out), self._id.encode()))
        self._native = _NativeCodec(out.value)

    def _handle(self) -> int:
        return self._native._handle()

    def decode(self, request: LLMRequest) -> AnnotatedLLMRequest:
        if not isinstance(request, LLMRequest):
            raise _not_instance(request, "LLMRequest")
        b = request._serialized()
        return AnnotatedLLMRequest._from_raw(_call_out(_decode, self._handle(), b, len(b)))

    def encode(self, annotated: AnnotatedLLMRequest, original: LLMRequest) -> LLMRequest:
        if not isinstance(annotated, AnnotatedLLMRequest):
            raise _not_instance(annotated, "AnnotatedLLMRequest")
        if not isinstance(original, LLMRequest):
            raise _not_instance(original, "LLMRequest")
        a = annotated._serialized()
        o = original._serialized()
        return LLMRequest._from_raw(_call_out(_encode, self._handle(), a, len(a), o, len(o)))

    def decode_response(self, response: Any) -> AnnotatedLLMResponse:
        b = _json.encode(response)
        doc = _json.loads(_call_out(lib.nemo_relay_codec_decode_response, self._handle(), b, len(b)))
        return AnnotatedLLMResponse._from_wire(doc)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class OpenAIChatCodec(_BuiltinCodec):
    __slots__ = ()
    _id = "openai_chat"


class OpenAIResponsesCodec(_BuiltinCodec):
    __slots__ = ()
    _id = "openai_responses"


class AnthropicMessagesCodec(_BuiltinCodec):
    __slots__ = ()
    _id = "anthropic_messages"


class GeminiGenerateContentCodec(_BuiltinCodec):
    __slots__ = ()
    _id = "gemini_generate_content"


class OCIGenAIChatCodec(_BuiltinCodec):
    __slots__ = ()
    _id = "oci_genai"


class BedrockConverseCodec(_BuiltinCodec):
    """AWS Bedrock Converse and ConverseStream (not in the reference; see docs/codecs.md)."""

    __slots__ = ()
    _id = "bedrock_converse"


_CLASSES = (
    OpenAIChatCodec,
    OpenAIResponsesCodec,
    AnthropicMessagesCodec,
    GeminiGenerateContentCodec,
    OCIGenAIChatCodec,
    BedrockConverseCodec,
)
_builtins: dict[str, type[_BuiltinCodec]] | None = None


def _builtin_classes() -> dict[str, type[_BuiltinCodec]]:
    """Every name the core accepts for a built-in codec (ids and aliases) to its class, read once
    from nemo_relay_codec_builtin_list; a codec without a class of its own gets a plain one."""
    global _builtins
    table = _builtins
    if table is None:
        by_id = {c._id: c for c in _CLASSES}
        table = {}
        for entry in _json.loads(_call_out(lib.nemo_relay_codec_builtin_list)):
            cls = by_id.get(entry["id"])
            if cls is None:
                cls = type("BuiltinCodec", (_BuiltinCodec,), {"__slots__": (), "_id": entry["id"], "__module__": __name__})
            for name in [entry["id"], *entry["aliases"]]:
                table[name] = cls
        _builtins = table
    return table


def _builtin_by_id(codec_id: str) -> Any:
    cls = _builtin_classes().get(codec_id)
    return cls() if cls else None


_contexts.builtin_codec = _builtin_by_id  # the codec contexts resolve built-ins through it


# ---- custom codecs: native handles built from callbacks ---------------------------------------


def _decode_handler(obj: Any) -> Any:
    def handler(token: int, doc: bytes) -> int:
        def produce() -> Any:
            return obj.decode(LLMRequest._from_wire(_json.loads(doc)))

        def finish(v: Any) -> bytes:
            # A wrong type answers null, so the runtime reports its own contract message.
            return _json.dumps(v._wire()) if isinstance(v, AnnotatedLLMRequest) else b"null"

        return run(token, produce, finish, store=False)

    return handler


def _encode_handler(obj: Any) -> Any:
    def handler(token: int, doc: bytes) -> int:
        def produce() -> Any:
            d = _json.loads(doc)
            return obj.encode(AnnotatedLLMRequest._from_wire(d["annotated"]), LLMRequest._from_wire(d["original"]))

        def finish(v: Any) -> bytes:
            return _json.dumps(v._wire()) if isinstance(v, LLMRequest) else b"null"

        return run(token, produce, finish, store=False)

    return handler


def _response_handler(obj: Any) -> Any:
    def handler(token: int, doc: bytes) -> int:
        def produce() -> Any:
            return obj.decode_response(_json.loads(doc))

        def finish(v: Any) -> bytes:
            if not isinstance(v, AnnotatedLLMResponse):
                log.warning(
                    "Response codec decode_response() returned unexpected type (expected AnnotatedLLMResponse): %s",
                    type(v).__name__,
                )
                return b"null"
            return _json.dumps(v._wire())

        return run(token, produce, finish, store=False)

    return handler


_custom: "weakref.WeakKeyDictionary[Any, _NativeCodec]" = weakref.WeakKeyDictionary()
_custom_strong: dict[int, tuple[Any, _NativeCodec]] = {}


def native_codec(obj: Any, role: str) -> tuple[int, Any]:
    """The native handle for a codec object (and what keeps it alive for the call)."""
    if isinstance(obj, _BuiltinCodec):
        return obj._handle(), obj
    try:
        cached = _custom.get(obj)
    except TypeError:
        cached = None
        entry = _custom_strong.get(id(obj))
        if entry is not None and entry[0] is obj:
            cached = entry[1]
    if cached is not None:
        return cached._handle(), cached
    has_req = callable(getattr(obj, "decode", None)) and callable(getattr(obj, "encode", None))
    has_resp = callable(getattr(obj, "decode_response", None))
    if role == "codec" and not has_req:
        raise _not_instance(obj, "LlmCodec")
    if role == "response_codec" and not has_resp:
        raise _not_instance(obj, "LlmResponseCodec")
    cbs = _ffi.CodecCallbacks(_ffi.CODEC_CALLBACKS_VERSION)
    if has_req:
        cbs.decode = callback_struct(_decode_handler(obj))
        cbs.encode = callback_struct(_encode_handler(obj))
    if has_resp:
        cbs.decode_response = callback_struct(_response_handler(obj))
    out = c_void_p()
    _errors.check(lib.nemo_relay_codec_new(byref(out), type(obj).__name__.encode(), byref(cbs)))
    native = _NativeCodec(out.value)
    try:
        _custom[obj] = native
    except TypeError:
        _custom_strong[id(obj)] = (obj, native)
    return native._handle(), native
