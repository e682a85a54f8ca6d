# SPDX-License-Identifier: Apache-2.0
"""The raw C layer: structs, callback types and one prototype table applied once at import.

All of it is derived from ``_abi``, which scripts/abi_tables.py generates from include/nemo_relay.h
(CI fails when it is stale), so a new export needs no hand-written row here.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

from typing import Any

from . import _abi, _lib

# ---- the header as ctypes ---------------------------------------------------------------------
# Everything below is derived from ``_abi`` (generated from include/nemo_relay.h by
# scripts/abi_tables.py): no layout, constant or prototype is written here by hand.

# Every constant without its prefix: ``OK``, ``E_MISUSE``, ``LLM_OPTIONS_VERSION``, ``MARK_SANITIZE``...
globals().update({name.removeprefix("NEMO_RELAY_"): value for name, value in _abi.CONSTANTS.items()})

_SCALARS: dict[str, Any] = {
    "uint32_t": c_uint32,
    "int32_t": c_int32,
    "nemo_relay_status_t": c_int32,
    "int64_t": c_int64,
    "uint64_t": c_uint64,
    "size_t": c_size_t,
    "bool": c_bool,
}
_FREE_TYPE = "void (*)(void *)"


def _python_name(c_name: str) -> str:
    """``nemo_relay_llm_end_options_t`` -> ``LLMEndOptions``; ``nemo_relay_log_fn`` -> ``LOG_FN``."""
    core = c_name.removeprefix("nemo_relay_")
    if core.endswith("_fn"):
        return core.upper()
    return "".join("LLM" if w == "llm" else w.capitalize() for w in core.removesuffix("_t").split("_"))


def _function_type(ret: str, params: tuple[str, ...] | list[str]) -> Any:
    """A callback type. Pointers, ``const char *`` included, stay ``c_void_p``: the bytes are read by length."""
    restype = None if ret == "void" else _SCALARS[ret]
    return CFUNCTYPE(restype, *(_SCALARS.get(p, c_void_p) for p in params))


FREE_FN = _function_type("void", ["void *"])
_FUNCTIONS: dict[str, Any] = {_FREE_TYPE: FREE_FN}
for _name, (_ret, _params) in _abi.FUNCTION_TYPES.items():
    _FUNCTIONS[_name] = globals()[_python_name(_name)] = _function_type(_ret, _params)

_STRUCTS: dict[str, Any] = {}


def _member_type(ctype: str) -> Any:
    if ctype in _SCALARS:
        return _SCALARS[ctype]
    if ctype in _FUNCTIONS:
        return _FUNCTIONS[ctype]
    if ctype in _STRUCTS:
        return _STRUCTS[ctype]
    if ctype == "const char *":
        return c_char_p
    if ctype.endswith("*"):
        return c_void_p
    raise TypeError(f"nemo_relay: no ctypes mapping for the C type {ctype!r}")


for _name, _members in _abi.STRUCTS.items():
    _STRUCTS[_name] = globals()[_python_name(_name)] = type(
        _python_name(_name), (Structure,), {"_fields_": [(member, _member_type(t)) for t, member in _members]}
    )


def _param_type(ctype: str) -> Any:
    """An export's parameter: a ``char **out`` result stays ``POINTER(c_void_p)`` so it can be freed."""
    base = ctype.removeprefix("const ").removesuffix("*").strip()
    if ctype.endswith("**"):
        return POINTER(c_void_p)
    if ctype.endswith("*") and base in _STRUCTS:
        return POINTER(_STRUCTS[base])
    if ctype.endswith("*") and base in _SCALARS:
        return POINTER(_SCALARS[base])
    return _member_type(ctype)


def _return_type(ctype: str) -> Any:
    return None if ctype == "void" else _member_type(ctype)


#: (name, restype, argtypes) of every export, in header order.
PROTOTYPES: list[tuple[str, object, list[object]]] = [
    (name, _return_type(ret), [_param_type(t) for t, _pname in params]) for name, _since, ret, params in _abi.EXPORTS
]


#: Exports that may wait for another thread that runs Python (a subscriber's delivery thread, a
#: codec answering later): called with the GIL released, as ctypes.CDLL does. Every other export
#: returns without waiting for another thread, so it is called with the GIL held (ctypes.PyDLL):
#: no release and re-acquire around each call and each nested callback, and no subscriber thread
#: taking the GIL over in the middle of a managed call.
RELEASES_GIL = frozenset(
    {
        "nemo_relay_flush",
        "nemo_relay_runtime_free",
        "nemo_relay_exporter_flush",
        "nemo_relay_exporter_shutdown",
        "nemo_relay_atif_exporter_export",
        "nemo_relay_codec_decode",
        "nemo_relay_codec_encode",
        "nemo_relay_codec_decode_response",
    }
)


class Library:
    """The prototyped exports, one attribute each (``lib.nemo_relay_scope_begin``)."""

    def __init__(self, dll: ctypes.CDLL) -> None:
        held = ctypes.PyDLL(dll._name, handle=dll._handle)
        for name, restype, argtypes in PROTOTYPES:
            fn = getattr(dll if name in RELEASES_GIL else held, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        self.dll = dll


lib: Any = Library(_lib.load())


def take_string(ptr: c_void_p, length: c_size_t) -> bytes:
    """Copies an owned ``char*`` result and frees it with ``nemo_relay_free``."""
    if not ptr.value:
        return b""
    try:
        return ctypes.string_at(ptr.value, length.value)
    finally:
        lib.nemo_relay_free(ptr)
