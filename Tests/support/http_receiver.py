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

import os
import socket
import sys
import time

# Run as a script from any working directory: the shared server plumbing sits beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scripted_server import ScriptedHandler, State, check_action_keys, check_counts, serve  # noqa: E402

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
    check_action_keys(action, ACTION_KEYS)
    if action.get("mode", "length") not in ("length", "chunked", "close"):
        raise ValueError(f"bad mode in {action!r}")
    check_counts(action, ("hang_ms", "body_size"))
    return action


class Handler(ScriptedHandler):
    server_version = "nemo-relay-test-receiver"

    def serve_request(self):
        state = self.server.state
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
        state.add_record(record)
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

    def read_body(self, record):
        """Reads the body into ``record``, chunk by chunk as it arrives when it is chunked."""
        state = self.server.state
        if self.is_chunked():
            with state.lock:
                record["chunked"] = True
            for data in self.read_chunks():
                with state.lock:
                    record["body"] += data
                    record["chunks"] += 1
                    state.last_activity = time.monotonic()
                    state.changed.notify_all()
            return
        data = self.read_sized_body()
        with state.lock:
            record["body"] += data

    def act(self, action):
        if self.hang_or_drop(action):
            return
        status = action.get("status", 200)
        mode = action.get("mode", "length")
        if "body_size" in action:
            body = b"x" * action["body_size"]
        else:
            body = action.get("body", "").encode()
        self.send_status(status, action)
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
        self.finish_action(action)

    def wait_condition(self, query):
        state = self.server.state
        count = int(query.get("count", ["1"])[0])
        return lambda: state.complete_count() >= count

    def snapshot_item(self, item, body, query):
        item["body_b64"] = self.body_b64(body)
        item["body_length"] = len(body)

    def stats(self):
        state = self.server.state
        return {"connections": state.connections, "requests": len(state.records)}


def main():
    serve(__doc__.split("\n")[0], Handler, State, check_action)


if __name__ == "__main__":
    main()
