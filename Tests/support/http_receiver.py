# SPDX-License-Identifier: Apache-2.0
"""A scripted loopback HTTP/1.1 receiver for exporter tests (Swift, Python and Node alike).

Start it as ``python3 Tests/support/http_receiver.py [--script JSON] [--idle-timeout SECONDS]``. It binds
127.0.0.1 on a free port and prints one line, ``{"type":"ready","port":N}``, on stdout. Standard library only.

Every request outside ``/__control/`` is recorded (method, path, headers in order, body bytes, whether the body
was chunked, the id of the TCP connection it came on) and answered with the next action of the script, or with
the default action once the script is used up. An action is a JSON object:

- ``{"status": 200}``: answer with that status (the default action is ``{"status": 200}``);
  ``"retry_after": "1"`` adds a ``Retry-After`` header; ``"headers": {...}`` adds more; ``"body": "text"`` or
  ``"body_size": N`` (N bytes of ``x``) sets the body; ``"content_type"`` its type;
  ``"mode": "length" | "chunked" | "close"`` frames the body with Content-Length (default), chunked encoding,
  or by closing the connection;
- ``{"drop": true}``: read the request, then close the connection without answering;
- ``{"hang_ms": N}``: wait N ms before acting (combine with the keys above; alone it answers 200);
- ``{"close": true}``: after answering (with no ``Connection: close``), close the connection, as a server whose
  keep-alive timeout expired would;
- ``{"early": true}``: answer as soon as the request head arrives, without reading the body, then close the
  connection (a server refusing an upload midway); the record stays ``"complete": false``.

Control API (same port, never recorded, never consumes the script):

- ``GET /__control/requests``: ``{"requests": [...]}``; each has ``index``, ``connection``, ``method``,
  ``path``, ``headers`` (``[[name, value], ...]``), ``chunked``, ``chunks``, ``complete``,
  ``body_b64``, ``body_length``; a chunked upload appears as soon as its head arrives and grows as chunks do;
- ``GET /__control/wait?count=N&timeout_ms=T``: like ``requests``, once N requests are complete or T ms
  passed (``"timed_out": true``);
- ``POST /__control/script``: body ``[actions]`` or ``{"script": [actions], "default": action}`` replaces
  the script (and the default when given);
- ``POST /__control/reset``: forgets requests, clears the script, restores the default;
- ``GET /__control/stats``: ``{"connections": opened, "requests": recorded}``;
- ``POST /__control/shutdown``: exits.

It exits by itself after ``--idle-timeout`` seconds without traffic (default 120) and, when its standard
input is a pipe or socket, on end of input (so it dies with the test process that spawned it).
"""

import argparse
import base64
import json
import os
import socket
import stat
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACTION_KEYS = {
    "status",
    "retry_after",
    "headers",
    "body",
    "body_size",
    "content_type",
    "mode",
    "drop",
    "hang_ms",
    "close",
    "early",
}


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
    if action.get("mode", "length") not in ("length", "chunked", "close"):
        raise ValueError(f"bad mode in {action!r}")
    for key in ("hang_ms", "body_size"):
        if key in action and (not isinstance(action[key], int) or action[key] < 0):
            raise ValueError(f"bad {key} in {action!r}")
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


class State:
    """Everything the handler threads share; ``lock`` guards all fields, ``changed`` signals new requests."""

    def __init__(self, script, default):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.records = []
        self.script = list(script)
        self.default = default or {"status": 200}
        self.connections = 0
        self.last_activity = time.monotonic()

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else dict(self.default)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nemo-relay-test-receiver"
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
        record = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "connection": self.connection_id,
            "chunked": False,
            "chunks": 0,
            "complete": False,
            "body": bytearray(),
        }
        with state.lock:
            record["index"] = len(state.records)
            state.records.append(record)
        action = state.next_action()
        if action.get("early"):
            # Answer before reading the body, then close. Closing with unread input would send a reset that can
            # destroy the answer in flight, so stop writing first and discard input until the client hangs up.
            self.act(action)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(2)
            try:
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass
            return
        try:
            self.read_body(record)
        except (ValueError, ConnectionError):
            self.close_connection = True
            return
        with state.lock:
            record["complete"] = True
            state.last_activity = time.monotonic()
            state.changed.notify_all()
        self.act(action)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_any

    def read_body(self, record):
        state = self.server.state
        te = self.headers.get("Transfer-Encoding", "")
        if te.strip().lower().endswith("chunked"):
            with state.lock:
                record["chunked"] = True
            while True:
                line = self.rfile.readline(65537)
                if not line.endswith(b"\n"):
                    raise ValueError("bad chunk size line")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                data = self.rfile.read(size)
                if len(data) != size or self.rfile.readline(65537) not in (b"\r\n", b"\n"):
                    raise ValueError("truncated chunk")
                with state.lock:
                    record["body"] += data
                    record["chunks"] += 1
                    state.last_activity = time.monotonic()
                    state.changed.notify_all()
        length = int(self.headers.get("Content-Length", "0") or "0")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ValueError("truncated body")
        with state.lock:
            record["body"] += data

    def act(self, action):
        if action.get("hang_ms"):
            time.sleep(action["hang_ms"] / 1000.0)
        if action.get("drop"):
            self.close_connection = True
            return
        status = action.get("status", 200)
        mode = action.get("mode", "length")
        if "body_size" in action:
            body = b"x" * action["body_size"]
        else:
            body = action.get("body", "").encode()
        self.send_response(status)
        if "retry_after" in action:
            self.send_header("Retry-After", str(action["retry_after"]))
        for name, value in action.get("headers", {}).items():
            self.send_header(name, str(value))
        if body or "content_type" in action:
            self.send_header("Content-Type", action.get("content_type", "text/plain"))
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 1000):
                piece = body[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif mode == "close":
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.close_connection = True
        else:
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
        try:
            if name == "requests" and self.command == "GET":
                self.reply(200, {"requests": self.snapshot()})
            elif name == "wait" and self.command == "GET":
                count = int(query.get("count", ["1"])[0])
                timeout = int(query.get("timeout_ms", ["5000"])[0]) / 1000.0
                end = time.monotonic() + timeout
                with state.lock:
                    while sum(1 for r in state.records if r["complete"]) < count:
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        state.changed.wait(left)
                    done = sum(1 for r in state.records if r["complete"]) >= count
                self.reply(200, {"requests": self.snapshot(), "timed_out": not done})
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
                    stats = {"connections": state.connections, "requests": len(state.records)}
                self.reply(200, stats)
            elif name == "shutdown" and self.command == "POST":
                self.reply(200, {"ok": True})
                os._exit(0)
            else:
                self.reply(404, {"error": f"no control endpoint {self.command} {url.path}"})
        except ValueError as error:
            self.reply(400, {"error": str(error)})

    def snapshot(self):
        with self.server.state.lock:
            out = []
            for r in self.server.state.records:
                item = {k: v for k, v in r.items() if k != "body"}
                item["body_b64"] = base64.b64encode(bytes(r["body"])).decode()
                item["body_length"] = len(r["body"])
                out.append(item)
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
