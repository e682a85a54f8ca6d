# SPDX-License-Identifier: Apache-2.0
"""The plumbing the scripted loopback receivers (``http_receiver.py``, ``otlp_receiver.py``) share.

A threading HTTP/1.1 server on 127.0.0.1 whose handler records each request outside ``/__control/`` and
answers it with the next action of a script; the control API common to both receivers (``requests``,
``wait``, ``script``, ``reset``, ``stats``, ``shutdown``); and the command line (``--script``,
``--idle-timeout``, ``--port``) with the exits on idleness and on end of standard input. A receiver supplies
what its requests, actions and records look like. Standard library only; not meant to be run by itself.
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


def check_action_keys(action, keys):
    """Raises ValueError unless ``action`` is an object with only ``keys`` and a valid ``status`` (default 200)."""
    if not isinstance(action, dict):
        raise ValueError(f"action must be an object: {action!r}")
    unknown = set(action) - keys
    if unknown:
        raise ValueError(f"unknown action keys {sorted(unknown)} in {action!r}")
    status = action.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"bad status in {action!r}")


def check_counts(action, keys):
    """Raises ValueError unless each of ``keys`` that ``action`` has is a non-negative integer."""
    for key in keys:
        if key in action and (not isinstance(action[key], int) or action[key] < 0):
            raise ValueError(f"bad {key} in {action!r}")


def parse_script(value, check_action):
    """Accepts ``[actions]`` or ``{"script": [...], "default": {...}}``, checking each action with
    ``check_action``; returns (script, default or None)."""
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
        self.started = time.monotonic()
        self.last_activity = self.started

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else dict(self.default)

    def add_record(self, record):
        """Appends ``record`` with its ``index``."""
        with self.lock:
            record["index"] = len(self.records)
            self.records.append(record)

    def complete_count(self):
        """How many records are complete; call with ``lock`` held."""
        return sum(1 for r in self.records if r["complete"])


class ScriptedHandler(BaseHTTPRequestHandler):
    """Dispatches ``/__control/`` to the control API and every other request to ``serve_request``.

    A subclass sets ``server_version`` and implements ``serve_request()``, ``wait_condition(query)`` (returns
    a predicate to call with the state lock held), ``snapshot_item(item, body, query)`` (adds the body fields
    to a record's copy), ``stats()`` (called with the lock held) and, for endpoints of its own,
    ``extra_control(name, query)`` (True when it answered)."""

    protocol_version = "HTTP/1.1"
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
        self.server.state.touch()
        if self.path.startswith("/__control/"):
            self.control()
            return
        self.serve_request()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_any

    # Request bodies

    def is_chunked(self):
        return self.headers.get("Transfer-Encoding", "").strip().lower().endswith("chunked")

    def read_chunks(self):
        """Yields the chunks of a chunked request body as they arrive; raises ValueError on bad framing."""
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
            yield data

    def read_sized_body(self):
        """The ``Content-Length`` body; raises ValueError when the connection ends before it does."""
        length = int(self.headers.get("Content-Length", "0") or "0")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ValueError("truncated body")
        return data

    # Answers

    def hang_or_drop(self, action):
        """Waits ``hang_ms``; on ``drop`` marks the connection for closing and returns True (no answer)."""
        if action.get("hang_ms"):
            time.sleep(action["hang_ms"] / 1000.0)
        if action.get("drop"):
            self.close_connection = True
            return True
        return False

    def send_status(self, status, action):
        """Sends the status line, ``Retry-After`` and the action's extra ``headers``."""
        self.send_response(status)
        if "retry_after" in action:
            self.send_header("Retry-After", str(action["retry_after"]))
        for name, value in action.get("headers", {}).items():
            self.send_header(name, str(value))

    def finish_action(self, action):
        self.wfile.flush()
        if action.get("close"):
            self.close_connection = True

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    # Control API

    def control(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0") or "0")
        payload = self.rfile.read(length) if length else b""
        name = url.path[len("/__control/") :]
        try:
            if name == "requests" and self.command == "GET":
                self.reply(200, {"requests": self.snapshot(query)})
            elif name == "wait" and self.command == "GET":
                done = self.wait_condition(query)
                timeout = int(query.get("timeout_ms", ["5000"])[0]) / 1000.0
                end = time.monotonic() + timeout
                with state.lock:
                    while not done():
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        state.changed.wait(left)
                    ok = done()
                self.reply(200, {"requests": self.snapshot(query), "timed_out": not ok})
            elif name == "script" and self.command == "POST":
                script, default = self.server.script_parser(json.loads(payload or b"[]"))
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
                    stats = self.stats()
                self.reply(200, stats)
            elif name == "shutdown" and self.command == "POST":
                self.reply(200, {"ok": True})
                os._exit(0)
            elif not self.extra_control(name, query):
                self.reply(404, {"error": f"no control endpoint {self.command} {url.path}"})
        except ValueError as error:
            self.reply(400, {"error": str(error)})

    def extra_control(self, name, query):
        return False

    def snapshot(self, query):
        """The records without their ``body``, each completed by ``snapshot_item``."""
        with self.server.state.lock:
            out = []
            for r in self.server.state.records:
                item = {k: v for k, v in r.items() if k != "body"}
                self.snapshot_item(item, bytes(r["body"]), query)
                out.append(item)
            return out

    @staticmethod
    def body_b64(body):
        return base64.b64encode(body).decode()


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


def serve(description, handler, state_class, check_action):
    """Parses the command line, binds 127.0.0.1, prints the ready line and serves until told to exit."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--script", default="[]", help="JSON: [actions] or {script, default}")
    parser.add_argument("--idle-timeout", type=float, default=120.0, help="seconds without traffic before exiting")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: any free port)")
    args = parser.parse_args()

    def script_parser(value):
        return parse_script(value, check_action)

    try:
        script, default = script_parser(json.loads(args.script))
    except ValueError as error:
        parser.error(f"--script: {error}")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.script_parser = script_parser
    server.state = state_class(script, default)
    threading.Thread(target=watch_idle, args=(server.state, args.idle_timeout), daemon=True).start()
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"type": "ready", "port": server.server_address[1]}), flush=True)
    server.serve_forever(poll_interval=0.2)
