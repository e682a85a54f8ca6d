# SPDX-License-Identifier: Apache-2.0
"""A scripted loopback OTLP/HTTP trace receiver for exporter tests (Swift, Python and Node alike).

Start it as ``python3 Tests/support/otlp_receiver.py [--script JSON] [--idle-timeout SECONDS]``. It binds
127.0.0.1 on a free port and prints one line, ``{"type":"ready","port":N}``, on stdout. It needs the PyPI
packages ``opentelemetry-proto`` and ``protobuf`` (``pip install opentelemetry-proto protobuf``); everything
else is the standard library.

Every request outside ``/__control/`` is recorded and, when its body is an OTLP ``ExportTraceServiceRequest``,
decoded: a protobuf body (``Content-Type: application/x-protobuf``) with ``ParseFromString``, a JSON body
(``application/json``) with ``json_format.Parse(..., ignore_unknown_fields=True)`` after the hex
``traceId``/``spanId``/``parentSpanId`` values (OTLP/JSON writes them as hex, protobuf JSON expects base64)
were rewritten; ``Content-Encoding: gzip`` bodies are inflated first. The decoded request is kept in the
OTLP/JSON form: lowerCamelCase keys, hex ids, enums as integers, 64-bit integers as decimal strings, default
values omitted.

Each request is answered with the next action of the script, or with the default action once the script is
used up. An action is a JSON object:

- ``{"status": 200}`` (the default action): 200 with an empty ``ExportTraceServiceResponse`` encoded in the
  request's content type (protobuf: an empty body; JSON: ``{}``);
- ``{"partial_success": {"rejected_spans": N, "error_message": "..."}}``: 200 with that ``partial_success``;
- ``{"status": 429, "retry_after": "1"}``, ``{"status": 503}``, ``{"status": 400}``, ...: that status with a
  ``google.rpc.Status`` body (``{"code": C, "message": M}`` in the request's content type; ``"message"``
  overrides the default text); ``"retry_after"`` adds a ``Retry-After`` header;
- ``"headers": {...}`` adds response headers; ``"body": "text"`` with ``"content_type"`` replaces the body;
- ``{"drop": true}``: read the request, then close the connection without answering;
- ``{"hang_ms": N}``: wait N ms before acting (alone it then answers 200);
- ``{"close": true}``: close the connection after answering.

Control API (same port, never recorded, never consumes the script):

- ``GET /__control/requests``: ``{"requests": [...]}``; each has ``index``, ``connection``, ``received_ms``
  (milliseconds since the receiver started), ``method``, ``path``, ``headers`` (``[[name, value], ...]``),
  ``content_type``, ``content_encoding``, ``body_length`` (as sent), ``complete``, ``action`` (the answer it
  got), ``decoded`` (the OTLP/JSON request or ``null``), ``decode_error`` (text or ``null``) and, with
  ``?body=1``, ``body_b64`` (as sent);
- ``GET /__control/spans``: ``{"spans": [...]}``, every decoded span in arrival order as
  ``{"request": index, "resource": {...}, "scope": {...}, "span": {...}}``;
- ``GET /__control/wait?count=N&spans=S&timeout_ms=T``: like ``requests``, once N requests are complete and S
  spans were decoded, or T ms passed (``"timed_out": true``);
- ``POST /__control/script``: body ``[actions]`` or ``{"script": [actions], "default": action}`` replaces
  the script (and the default when given);
- ``POST /__control/reset``: forgets requests, clears the script, restores the default;
- ``GET /__control/stats``: ``{"connections": opened, "requests": recorded, "spans": decoded}``;
- ``POST /__control/shutdown``: exits.

It exits by itself after ``--idle-timeout`` seconds without traffic (default 120) and, when its standard
input is a pipe or socket, on end of input (so it dies with the test process that spawned it).
"""

import base64
import gzip
import json
import os
import re
import sys
import time
import zlib

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

# Run as a script from any working directory: the shared server plumbing sits beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scripted_server import ScriptedHandler, State, check_action_keys, check_counts, serve  # noqa: E402

ACTION_KEYS = {
    "status",
    "retry_after",
    "headers",
    "body",
    "content_type",
    "message",
    "partial_success",
    "drop",
    "hang_ms",
    "close",
}

#: HTTP status -> google.rpc.Code, for the Status body of failures.
RPC_CODES = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    408: 4,
    409: 10,
    413: 8,
    429: 8,
    500: 13,
    501: 12,
    502: 14,
    503: 14,
    504: 4,
}

ID_KEYS = ("traceId", "spanId", "parentSpanId")
HEX_RE = re.compile(r"^[0-9a-fA-F]*$")


def check_action(action):
    """Raises ValueError unless ``action`` is a well-formed script action."""
    check_action_keys(action, ACTION_KEYS)
    check_counts(action, ("hang_ms",))
    partial = action.get("partial_success")
    if partial is not None:
        if not isinstance(partial, dict) or set(partial) - {"rejected_spans", "error_message"}:
            raise ValueError(f"bad partial_success in {action!r}")
    return action


# ---------------------------------------------------------------------------------------------------------------
# OTLP decoding and encoding
# ---------------------------------------------------------------------------------------------------------------


def _walk_ids(value, convert):
    """Applies ``convert`` to every trace/span id field of spans and links, in place."""
    for resource_spans in value.get("resourceSpans", []) or []:
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            for span in scope_spans.get("spans", []) or []:
                for holder in [span] + list(span.get("links", []) or []):
                    for key in ID_KEYS:
                        if isinstance(holder.get(key), str):
                            holder[key] = convert(holder[key])


def _hex_to_b64(text):
    if not HEX_RE.match(text) or len(text) % 2:
        raise ValueError(f"id {text!r} is not hex")
    return base64.b64encode(bytes.fromhex(text)).decode()


def _b64_to_hex(text):
    return base64.b64decode(text).hex()


def is_json(content_type):
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def decode_request(body, content_type, content_encoding):
    """Returns the OTLP/JSON form (dict, hex ids) of an ExportTraceServiceRequest body; raises on bad input."""
    encoding = (content_encoding or "").strip().lower()
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    elif encoding not in ("", "identity"):
        raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
    message = ExportTraceServiceRequest()
    if is_json(content_type):
        value = json.loads(body.decode("utf-8"))
        _walk_ids(value, _hex_to_b64)
        json_format.Parse(json.dumps(value), message, ignore_unknown_fields=True)
    else:
        message.ParseFromString(body)
    return to_otlp_json(message)


def to_otlp_json(message):
    """The OTLP/JSON form of a trace request message: protobuf JSON with hex ids and integer enums."""
    value = json_format.MessageToDict(message, use_integers_for_enums=True)
    _walk_ids(value, _b64_to_hex)
    return value


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def rpc_status(code, message, as_json):
    """A google.rpc.Status body (code = 1, message = 2)."""
    if as_json:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def export_response(partial, as_json):
    response = ExportTraceServiceResponse()
    if partial is not None:
        response.partial_success.rejected_spans = int(partial.get("rejected_spans", 0))
        response.partial_success.error_message = str(partial.get("error_message", ""))
    if as_json:
        return json.dumps(json_format.MessageToDict(response)).encode()
    return response.SerializeToString()


def flatten_spans(index, decoded):
    out = []
    for resource_spans in decoded.get("resourceSpans", []) or []:
        resource = resource_spans.get("resource", {})
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            scope = scope_spans.get("scope", {})
            for span in scope_spans.get("spans", []) or []:
                out.append({"request": index, "resource": resource, "scope": scope, "span": span})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------------------


class OTLPState(State):
    def span_count(self):
        return sum(len(flatten_spans(r["index"], r["decoded"])) for r in self.records if r["decoded"])


class Handler(ScriptedHandler):
    server_version = "nemo-relay-otlp-test-receiver"

    def serve_request(self):
        state = self.server.state
        now = time.monotonic()
        record = {
            "connection": self.connection_id,
            "received_ms": round((now - state.started) * 1000.0, 3),
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "complete": False,
            "action": None,
            "decoded": None,
            "decode_error": None,
            "body": b"",
        }
        state.add_record(record)
        action = state.next_action()
        try:
            body = self.read_body()
        except (ValueError, ConnectionError):
            self.close_connection = True
            return
        try:
            decoded = decode_request(body, record["content_type"], record["content_encoding"])
            error = None
        except Exception as exc:  # noqa: BLE001 - any decode failure is recorded, not fatal
            decoded, error = None, f"{type(exc).__name__}: {exc}"
        with state.lock:
            record["body"] = body
            record["decoded"] = decoded
            record["decode_error"] = error
            record["action"] = action
            record["complete"] = True
            state.last_activity = time.monotonic()
            state.changed.notify_all()
        self.act(action, is_json(record["content_type"]))

    def read_body(self):
        if self.is_chunked():
            return b"".join(self.read_chunks())
        return self.read_sized_body()

    def act(self, action, as_json):
        if self.hang_or_drop(action):
            return
        status = action.get("status", 200)
        content_type = "application/json" if as_json else "application/x-protobuf"
        if "body" in action:
            body = str(action["body"]).encode()
            content_type = action.get("content_type", "text/plain")
        elif 200 <= status < 300:
            body = export_response(action.get("partial_success"), as_json)
        else:
            message = action.get("message", f"scripted status {status}")
            body = rpc_status(RPC_CODES.get(status, 2), message, as_json)
        self.send_status(status, action)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.finish_action(action)

    def extra_control(self, name, query):
        if name == "spans" and self.command == "GET":
            self.reply(200, {"spans": self.spans()})
            return True
        return False

    def wait_condition(self, query):
        state = self.server.state
        count = int(query.get("count", ["0"])[0])
        spans = int(query.get("spans", ["0"])[0])
        return lambda: state.complete_count() >= count and state.span_count() >= spans

    def snapshot_item(self, item, body, query):
        item["body_length"] = len(body)
        if query.get("body", ["0"])[0] not in ("0", "", "false"):
            item["body_b64"] = self.body_b64(body)

    def stats(self):
        state = self.server.state
        return {"connections": state.connections, "requests": len(state.records), "spans": state.span_count()}

    def spans(self):
        with self.server.state.lock:
            out = []
            for r in self.server.state.records:
                if r["decoded"]:
                    out.extend(flatten_spans(r["index"], r["decoded"]))
            return out


def main():
    serve(__doc__.split("\n")[0], Handler, OTLPState, check_action)


if __name__ == "__main__":
    main()
