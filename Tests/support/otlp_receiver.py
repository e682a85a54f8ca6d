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

import argparse
import base64
import gzip
import json
import os
import re
import socket
import stat
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

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
    if not isinstance(action, dict):
        raise ValueError(f"action must be an object: {action!r}")
    unknown = set(action) - ACTION_KEYS
    if unknown:
        raise ValueError(f"unknown action keys {sorted(unknown)} in {action!r}")
    status = action.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"bad status in {action!r}")
    if "hang_ms" in action and (not isinstance(action["hang_ms"], int) or action["hang_ms"] < 0):
        raise ValueError(f"bad hang_ms in {action!r}")
    partial = action.get("partial_success")
    if partial is not None:
        if not isinstance(partial, dict) or set(partial) - {"rejected_spans", "error_message"}:
            raise ValueError(f"bad partial_success in {action!r}")
    return action


def parse_script(value):
    """Accepts ``[actions]`` or ``{"script": [...], "default": {...}}``; returns (script, default or None)."""
    if isinstance(value, list):
        return [check_action(a) for a in value], None
    if isinstance(value, dict):
        unknown = set(value) - {"script", "default"}
        if unknown:
            raise ValueError(f"unknown script keys {sorted(unknown)}")
        script = [check_action(a) for a in value.get("script", [])]
        default = value.get("default")
        return script, (check_action(default) if default is not None else None)
    raise ValueError("script must be a list of actions or an object with 'script' and 'default'")


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


class State:
    """Everything the handler threads share; ``lock`` guards all fields, ``changed`` signals new requests."""

    def __init__(self, script, default):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.records = []
        self.script = list(script)
        self.default = default or {"status": 200}
        self.connections = 0
        self.started = time.monotonic()
        self.last_activity = self.started

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else dict(self.default)

    def span_count(self):
        return sum(len(flatten_spans(r["index"], r["decoded"])) for r in self.records if r["decoded"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nemo-relay-otlp-test-receiver"
    # Bounds a client that stalls mid-request; a kept-alive idle connection also ends after this.
    timeout = 60

    def setup(self):
        super().setup()
        state = self.server.state
        with state.lock:
            state.connections += 1
            self.connection_id = state.connections

    def log_message(self, format, *args):
        """Keeps stderr quiet: the control API is the way to see traffic."""

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, socket.timeout, TimeoutError):
            pass

    def do_any(self):
        state = self.server.state
        state.touch()
        if self.path.startswith("/__control/"):
            self.control()
            return
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
        with state.lock:
            record["index"] = len(state.records)
            state.records.append(record)
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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_any

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.strip().lower().endswith("chunked"):
            data = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line.endswith(b"\n"):
                    raise ValueError("bad chunk size line")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                piece = self.rfile.read(size)
                if len(piece) != size or self.rfile.readline(65537) not in (b"\r\n", b"\n"):
                    raise ValueError("truncated chunk")
                data += piece
        length = int(self.headers.get("Content-Length", "0") or "0")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ValueError("truncated body")
        return data

    def act(self, action, as_json):
        if action.get("hang_ms"):
            time.sleep(action["hang_ms"] / 1000.0)
        if action.get("drop"):
            self.close_connection = True
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
        self.send_response(status)
        if "retry_after" in action:
            self.send_header("Retry-After", str(action["retry_after"]))
        for name, value in action.get("headers", {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if action.get("close"):
            self.close_connection = True

    def control(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0") or "0")
        payload = self.rfile.read(length) if length else b""
        name = url.path[len("/__control/") :]
        with_body = query.get("body", ["0"])[0] not in ("0", "", "false")
        try:
            if name == "requests" and self.command == "GET":
                self.reply(200, {"requests": self.snapshot(with_body)})
            elif name == "spans" and self.command == "GET":
                self.reply(200, {"spans": self.spans()})
            elif name == "wait" and self.command == "GET":
                count = int(query.get("count", ["0"])[0])
                spans = int(query.get("spans", ["0"])[0])
                timeout = int(query.get("timeout_ms", ["5000"])[0]) / 1000.0
                end = time.monotonic() + timeout

                def done():
                    complete = sum(1 for r in state.records if r["complete"])
                    return complete >= count and state.span_count() >= spans

                with state.lock:
                    while not done():
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        state.changed.wait(left)
                    ok = done()
                self.reply(200, {"requests": self.snapshot(with_body), "timed_out": not ok})
            elif name == "script" and self.command == "POST":
                script, default = parse_script(json.loads(payload or b"[]"))
                with state.lock:
                    state.script = script
                    if default is not None:
                        state.default = default
                self.reply(200, {"ok": True})
            elif name == "reset" and self.command == "POST":
                with state.lock:
                    state.records = []
                    state.script = []
                    state.default = {"status": 200}
                self.reply(200, {"ok": True})
            elif name == "stats" and self.command == "GET":
                with state.lock:
                    stats = {
                        "connections": state.connections,
                        "requests": len(state.records),
                        "spans": state.span_count(),
                    }
                self.reply(200, stats)
            elif name == "shutdown" and self.command == "POST":
                self.reply(200, {"ok": True})
                os._exit(0)
            else:
                self.reply(404, {"error": f"no control endpoint {self.command} {url.path}"})
        except ValueError as error:
            self.reply(400, {"error": str(error)})

    def snapshot(self, with_body):
        with self.server.state.lock:
            out = []
            for r in self.server.state.records:
                item = {k: v for k, v in r.items() if k != "body"}
                item["body_length"] = len(r["body"])
                if with_body:
                    item["body_b64"] = base64.b64encode(r["body"]).decode()
                out.append(item)
            return out

    def spans(self):
        with self.server.state.lock:
            out = []
            for r in self.server.state.records:
                if r["decoded"]:
                    out.extend(flatten_spans(r["index"], r["decoded"]))
            return out

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def watch_idle(state, idle_timeout):
    while True:
        time.sleep(0.5)
        with state.lock:
            idle = time.monotonic() - state.last_activity
        if idle > idle_timeout:
            os._exit(0)


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script", default="[]", help="JSON: [actions] or {script, default}")
    parser.add_argument("--idle-timeout", type=float, default=120.0, help="seconds without traffic before exiting")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: any free port)")
    args = parser.parse_args()
    try:
        script, default = parse_script(json.loads(args.script))
    except ValueError as error:
        parser.error(f"--script: {error}")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(script, default)
    threading.Thread(target=watch_idle, args=(server.state, args.idle_timeout), daemon=True).start()
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"type": "ready", "port": server.server_address[1]}), flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
