# SPDX-License-Identifier: Apache-2.0
"""The raw C layer: structs, callback types and one prototype table applied once at import.

``tests/test_ffi_header.py`` parses ``include/nemo_relay.h`` and fails if a name or an argument
count here differs from the header.
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

from . import _lib

# ---- constants (mirroring nemo_relay.h) -------------------------------------------------------

OK = 0
PENDING = -1
E_INVALID_ARGUMENT = 1
E_NOT_FOUND = 2
E_ALREADY_EXISTS = 3
E_GUARDRAIL_REJECTED = 4
E_INTERNAL = 5
E_MISUSE = 6
E_CALLBACK = 7
E_CANCELLED = 8
E_INVALID_JSON = 9
E_VERSION = 10
E_TIMEOUT = 11
E_SCOPE_STACK_EMPTY = 12
E_FULL = 13

RUNTIME_OPTIONS_VERSION = 1
SCOPE_OPTIONS_VERSION = 1
MARK_OPTIONS_VERSION = 1
LLM_OPTIONS_VERSION = 1
LLM_END_OPTIONS_VERSION = 1
TOOL_OPTIONS_VERSION = 1
CODEC_CALLBACKS_VERSION = 1
STREAM_OPTIONS_VERSION = 1
EXPORTER_OPTIONS_VERSION = 1

SEVERITY_NONE = -1

# Propagation capture modes.
PROPAGATION_ROOTED = 0
PROPAGATION_ROOTLESS = 1
PROPAGATION_WITH_ROOT = 2

# Middleware kinds.
LLM_CONDITIONAL_EXECUTION = 0
LLM_REQUEST_INTERCEPT = 1
LLM_EXECUTION_INTERCEPT = 2
LLM_STREAM_EXECUTION_INTERCEPT = 3
LLM_SANITIZE_REQUEST = 4
LLM_SANITIZE_RESPONSE = 5
TOOL_CONDITIONAL_EXECUTION = 6
TOOL_REQUEST_INTERCEPT = 7
TOOL_EXECUTION_INTERCEPT = 8
TOOL_SANITIZE_REQUEST = 9
TOOL_SANITIZE_RESPONSE = 10
MARK_SANITIZE = 11
SCOPE_START_SANITIZE = 12
SCOPE_END_SANITIZE = 13
METADATA_INJECTOR = 14
BREAK_CHAIN = 1

# ---- callback types ---------------------------------------------------------------------------

#: status fn(token, json, len, user_data)
CALLBACK_FN = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, c_void_p)
#: void fn(status, json, len, user_data)
DONE_FN = CFUNCTYPE(None, c_int32, c_void_p, c_size_t, c_void_p)
#: void fn(json, len, user_data)
SUBSCRIBER_FN = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p)
#: void fn(jsonl, len, count, user_data)
SUBSCRIBER_BATCH_FN = CFUNCTYPE(None, c_void_p, c_size_t, c_size_t, c_void_p)
#: void free(user_data)
FREE_FN = CFUNCTYPE(None, c_void_p)
#: void fn(level, message, len, user_data)
LOG_FN = CFUNCTYPE(None, c_int32, c_void_p, c_size_t, c_void_p)

# ---- structs ----------------------------------------------------------------------------------


class ExporterOptions(Structure):
    _fields_ = [("version", c_uint32), ("config_json", c_char_p), ("config_len", c_size_t)]


class Callback(Structure):
    _fields_ = [("fn", CALLBACK_FN), ("user_data", c_void_p), ("user_data_free", FREE_FN)]


class Done(Structure):
    _fields_ = [("fn", DONE_FN), ("user_data", c_void_p), ("user_data_free", FREE_FN)]


class RuntimeOptions(Structure):
    _fields_ = [("version", c_uint32), ("subscriber_queue_capacity", c_uint32)]


class ScopeOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("attributes", c_uint32),
        ("parent", c_void_p),
        ("data", c_char_p),
        ("data_len", c_size_t),
        ("metadata", c_char_p),
        ("metadata_len", c_size_t),
        ("payload", c_char_p),
        ("payload_len", c_size_t),
        ("has_timestamp", c_bool),
        ("timestamp_ns", c_int64),
    ]


class MarkOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("severity", c_int32),
        ("parent", c_void_p),
        ("data", c_char_p),
        ("data_len", c_size_t),
        ("data_schema", c_char_p),
        ("data_schema_len", c_size_t),
        ("metadata", c_char_p),
        ("metadata_len", c_size_t),
        ("has_timestamp", c_bool),
        ("timestamp_ns", c_int64),
    ]


class LLMOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("attributes", c_uint32),
        ("parent", c_void_p),
        ("data", c_char_p),
        ("data_len", c_size_t),
        ("metadata", c_char_p),
        ("metadata_len", c_size_t),
        ("model_name", c_char_p),
        ("annotated_request", c_char_p),
        ("annotated_request_len", c_size_t),
        ("codec", c_void_p),
        ("response_codec", c_void_p),
        ("has_timestamp", c_bool),
        ("timestamp_ns", c_int64),
    ]


class LLMEndOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("data", c_char_p),
        ("data_len", c_size_t),
        ("metadata", c_char_p),
        ("metadata_len", c_size_t),
        ("annotated_response", c_char_p),
        ("annotated_response_len", c_size_t),
        ("response_codec", c_void_p),
        ("has_timestamp", c_bool),
        ("timestamp_ns", c_int64),
    ]


class ToolOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("attributes", c_uint32),
        ("parent", c_void_p),
        ("data", c_char_p),
        ("data_len", c_size_t),
        ("metadata", c_char_p),
        ("metadata_len", c_size_t),
        ("tool_call_id", c_char_p),
        ("has_timestamp", c_bool),
        ("timestamp_ns", c_int64),
    ]


class CodecCallbacks(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("decode", Callback),
        ("encode", Callback),
        ("decode_response", Callback),
    ]


class StreamOptions(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("buffer_capacity", c_uint32),
        ("collector", Callback),
        ("finalizer", Callback),
        ("on_chunk", Callback),
        ("on_end", Done),
    ]


_status = c_int32
_p = c_void_p
_pp = POINTER(c_void_p)
_out_str = POINTER(c_void_p)  # char **out: owned, freed with nemo_relay_free, so never c_char_p
_out_len = POINTER(c_size_t)

# ---- the prototype table: (name, restype, argtypes) -------------------------------------------

PROTOTYPES: list[tuple[str, object, list[object]]] = [
    ("nemo_relay_version", c_char_p, []),
    ("nemo_relay_version_number", c_int32, []),
    ("nemo_relay_status_str", c_char_p, [_status]),
    ("nemo_relay_last_error_message", c_char_p, []),
    ("nemo_relay_free", None, [_p]),
    ("nemo_relay_complete", _status, [_p, _status, c_char_p, c_size_t]),
    ("nemo_relay_token_next", _status, [_p, c_char_p, c_size_t, POINTER(Done)]),
    ("nemo_relay_runtime_options_init", _status, [POINTER(RuntimeOptions), c_uint32]),
    ("nemo_relay_runtime_new", _status, [_pp, POINTER(RuntimeOptions)]),
    ("nemo_relay_runtime_free", None, [_p]),
    ("nemo_relay_stack_new", _status, [_pp, _p]),
    ("nemo_relay_stack_thread_default", _status, [_pp]),
    ("nemo_relay_stack_set_thread_default", _status, [_p]),
    ("nemo_relay_stack_free", None, [_p]),
    ("nemo_relay_scope_options_init", _status, [POINTER(ScopeOptions), c_uint32]),
    ("nemo_relay_scope_begin", _status, [_pp, _p, _p, c_char_p, c_int32, POINTER(ScopeOptions)]),
    ("nemo_relay_scope_end", _status, [_p, _p, _p, POINTER(ScopeOptions)]),
    ("nemo_relay_scope_current", _status, [_pp, _p]),
    ("nemo_relay_scope_info", _status, [_out_str, _out_len, _p]),
    ("nemo_relay_scope_free", None, [_p]),
    ("nemo_relay_mark_options_init", _status, [POINTER(MarkOptions), c_uint32]),
    ("nemo_relay_mark", _status, [_p, _p, c_char_p, POINTER(MarkOptions)]),
    ("nemo_relay_llm_options_init", _status, [POINTER(LLMOptions), c_uint32]),
    ("nemo_relay_llm_call", _status, [_pp, _p, _p, c_char_p, c_char_p, c_size_t, POINTER(LLMOptions)]),
    ("nemo_relay_llm_end_options_init", _status, [POINTER(LLMEndOptions), c_uint32]),
    ("nemo_relay_llm_call_end", _status, [_p, _p, _p, c_char_p, c_size_t, POINTER(LLMEndOptions)]),
    (
        "nemo_relay_llm_execute",
        _status,
        [_pp, _p, _p, c_char_p, c_char_p, c_size_t, POINTER(LLMOptions), POINTER(Callback), POINTER(Done)],
    ),
    ("nemo_relay_call_cancel", _status, [_p]),
    ("nemo_relay_call_free", None, [_p]),
    ("nemo_relay_tool_options_init", _status, [POINTER(ToolOptions), c_uint32]),
    ("nemo_relay_tool_call", _status, [_pp, _p, _p, c_char_p, c_char_p, c_size_t, POINTER(ToolOptions)]),
    ("nemo_relay_tool_call_end", _status, [_p, _p, _p, c_char_p, c_size_t, POINTER(ToolOptions)]),
    (
        "nemo_relay_tool_execute",
        _status,
        [_pp, _p, _p, c_char_p, c_char_p, c_size_t, POINTER(ToolOptions), POINTER(Callback), POINTER(Done)],
    ),
    ("nemo_relay_register", _status, [_p, _p, c_int32, c_char_p, c_int32, c_uint32, POINTER(Callback)]),
    ("nemo_relay_deregister", _status, [POINTER(c_bool), _p, _p, c_int32, c_char_p]),
    ("nemo_relay_subscriber_register", _status, [_p, _p, c_char_p, SUBSCRIBER_FN, _p, FREE_FN]),
    ("nemo_relay_subscriber_register_batch", _status, [_p, _p, c_char_p, SUBSCRIBER_BATCH_FN, _p, FREE_FN]),
    ("nemo_relay_subscriber_deregister", _status, [POINTER(c_bool), _p, _p, c_char_p]),
    ("nemo_relay_flush", _status, [_p, c_int64]),
    ("nemo_relay_dropped_events", _status, [POINTER(c_uint64), _p]),
    ("nemo_relay_codec_builtin", _status, [_pp, c_char_p]),
    ("nemo_relay_codec_new", _status, [_pp, c_char_p, POINTER(CodecCallbacks)]),
    ("nemo_relay_codec_free", None, [_p]),
    ("nemo_relay_codec_decode", _status, [_out_str, _out_len, _p, c_char_p, c_size_t]),
    ("nemo_relay_codec_encode", _status, [_out_str, _out_len, _p, c_char_p, c_size_t, c_char_p, c_size_t]),
    ("nemo_relay_codec_decode_response", _status, [_out_str, _out_len, _p, c_char_p, c_size_t]),
    ("nemo_relay_chunk_summary", _status, [_out_str, _out_len, c_char_p, c_size_t, c_uint64]),
    ("nemo_relay_llm_conditional_execution", _status, [_p, _p, c_char_p, c_size_t, POINTER(Done)]),
    ("nemo_relay_llm_request_intercepts", _status, [_p, _p, c_char_p, c_char_p, c_size_t, POINTER(Done)]),
    ("nemo_relay_tool_conditional_execution", _status, [_p, _p, c_char_p, c_char_p, c_size_t, POINTER(Done)]),
    ("nemo_relay_tool_request_intercepts", _status, [_p, _p, c_char_p, c_char_p, c_size_t, POINTER(Done)]),
    ("nemo_relay_runtime_set_log_callback", _status, [_p, LOG_FN, _p, FREE_FN]),
    ("nemo_relay_stream_options_init", _status, [POINTER(StreamOptions), c_uint32]),
    (
        "nemo_relay_llm_stream_execute",
        _status,
        [_pp, _p, _p, c_char_p, c_char_p, c_size_t, POINTER(LLMOptions), POINTER(StreamOptions), POINTER(Callback)],
    ),
    ("nemo_relay_token_producer", _status, [_pp, _p]),
    ("nemo_relay_stream_push", _status, [_p, c_char_p, c_size_t]),
    ("nemo_relay_producer_on_cancel", _status, [_p, POINTER(Done)]),
    ("nemo_relay_producer_free", None, [_p]),
    ("nemo_relay_stream_next", _status, [_out_str, _out_len, _p, c_int64]),
    ("nemo_relay_stream_close", _status, [_p]),
    ("nemo_relay_stream_free", None, [_p]),
    ("nemo_relay_exporter_options_init", _status, [POINTER(ExporterOptions), c_uint32]),
    ("nemo_relay_atof_exporter_new", _status, [_pp, POINTER(ExporterOptions)]),
    ("nemo_relay_atif_exporter_new", _status, [_pp, POINTER(ExporterOptions)]),
    ("nemo_relay_otel_exporter_new", _status, [_pp, POINTER(ExporterOptions)]),
    ("nemo_relay_exporter_register", _status, [_p, _p, c_char_p]),
    ("nemo_relay_exporter_deregister", _status, [POINTER(c_bool), _p, _p, c_char_p]),
    ("nemo_relay_exporter_flush", _status, [_p, c_int64]),
    ("nemo_relay_exporter_shutdown", _status, [_p, c_int64]),
    ("nemo_relay_exporter_diagnostics", _status, [_out_str, _out_len, _p]),
    ("nemo_relay_exporter_path", _status, [_out_str, _out_len, _p]),
    ("nemo_relay_atif_exporter_export", _status, [_out_str, _out_len, _p, c_int64]),
    ("nemo_relay_atif_exporter_clear", _status, [_p]),
    ("nemo_relay_atif_trajectory", _status, [_out_str, _out_len, c_char_p, c_size_t, c_char_p, c_size_t]),
    ("nemo_relay_exporter_free", None, [_p]),
    ("nemo_relay_propagation_capture", _status, [_out_str, _out_len, _p, _p, c_int32, c_char_p]),
    ("nemo_relay_traceparent_capture", _status, [_out_str, _out_len, _p, _p]),
    ("nemo_relay_token_scope", _status, [_pp, _p]),
    ("nemo_relay_token_enter", _status, [_p]),
    ("nemo_relay_token_leave", None, [_p]),
    ("nemo_relay_stack_from_propagation", _status, [_pp, c_char_p, c_size_t]),
    ("nemo_relay_propagation_parse", _status, [_out_str, _out_len, c_char_p, c_size_t]),
    ("nemo_relay_propagation_normalize", _status, [_out_str, _out_len, c_char_p, c_size_t]),
    ("nemo_relay_propagation_to_traceparent", _status, [_out_str, _out_len, c_char_p, c_size_t]),
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
