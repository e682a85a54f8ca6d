# SPDX-License-Identifier: Apache-2.0
"""ATOF and ATIF exporters: the golden scenario, the reference's configuration surface, file and stream
sinks against a real loopback receiver, third-party validation and a process killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import nemo_relay as nr
from conftest import REPO, load_vectors, run_fresh
from nemo_relay import scope, subscribers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exporter_scenario  # noqa: E402

RECEIVER = REPO / "Tests" / "support" / "http_receiver.py"


def file_config(directory: Any, filename: str = "events.jsonl", mode: Any = None) -> nr.AtofExporterConfig:
    c = nr.AtofExporterConfig()
    c.output_directory = str(directory)
    c.filename = filename
    if mode is not None:
        c.mode = mode
    return c


def lines(path: Any) -> list[str]:
    return [line for line in Path(path).read_text(encoding="utf-8").split("\n") if line]


class Collector:
    """A plain subscriber keeping each event's JSON line."""

    def __init__(self, name: str) -> None:
        self.lines: list[str] = []
        self.name = name
        subscribers.register(name, lambda e: self.lines.append(e.to_json()))

    def close(self) -> None:
        subscribers.deregister(self.name)


# ---- the golden scenario ------------------------------------------------------------------------


def test_scenario_matches_the_reference(tmp_path: Path) -> None:
    vector = load_vectors("exporters.json")["scenario"]
    ours = exporter_scenario.normalise(exporter_scenario.run(tmp_path), outdir=tmp_path)
    assert ours["atof"] == vector["atof"]
    assert ours["atif"] == vector["atif"]


def test_export_json_keeps_the_reference_key_order(tmp_path: Path) -> None:
    vector = load_vectors("exporters.json")["scenario"]
    ours = exporter_scenario.run(tmp_path)

    def key_order(text: str) -> list[Any]:
        out: list[Any] = []
        json.loads(text, object_pairs_hook=lambda pairs: out.append([k for k, _ in pairs]) or dict(pairs))
        return out

    assert key_order(ours["atif_json"]) == key_order(vector["atif_json_raw"])
    assert json.loads(ours["atif_json"]) == ours["atif"]
    assert list(ours["atif"]) == sorted(ours["atif"])  # export() lists keys sorted, like the reference


def test_jsonl_lines_are_the_subscriber_lines(tmp_path: Path) -> None:
    def body() -> None:
        x = nr.AtofExporter(file_config(tmp_path))
        c = Collector("py-lines")
        x.register("py-atof")
        try:
            with scope.scope("agent", nr.ScopeType.Agent, input={"q": "é ☃ \u2028 \x00"}):
                for i in range(50):
                    scope.event("m", data={"i": i, "f": 1e-7, "big": 2**63})
            subscribers.flush()
            x.force_flush()
        finally:
            x.deregister("py-atof")
            c.close()
            x.shutdown()
        assert lines(x.path) == c.lines
        assert len(c.lines) == 52

    run_fresh(body)


# ---- the reference's configuration surface --------------------------------------------------------


def test_config_defaults_and_type_checks() -> None:
    c = nr.AtofExporterConfig()
    assert c.sink_type == "file" and c.output_directory == os.getcwd() and c.mode == nr.AtofExporterMode.Append
    assert c.filename.startswith("nemo-relay-events-") and c.filename.endswith(".jsonl")
    assert c.filename == c.filename  # computed once
    assert (c.url, c.transport, c.headers, c.header_env) == ("", "http_post", {}, {})
    assert (c.timeout_millis, c.field_name_policy) == (3000, "preserve")
    assert repr(c) == '<AtofExporterConfig sink_type="file">'
    assert repr(nr.AtofExporterMode.Overwrite) == "AtofExporterMode.Overwrite"
    with pytest.raises(TypeError, match="'str' object is not an instance of 'AtofExporterMode'"):
        c.mode = "overwrite"
    with pytest.raises(OverflowError, match="can't convert negative int to unsigned"):
        c.timeout_millis = -1
    with pytest.raises(TypeError, match="'int' object is not an instance of 'str'"):
        c.headers = {"a": 1}
    with pytest.raises(TypeError):
        c.output_directory = None
    h = c.headers
    h["x"] = "y"
    assert c.headers == {}  # a copy
    with pytest.raises(TypeError, match="'None' is not an instance of 'AtofExporterConfig'"):
        nr.AtofExporter(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        nr.AtofExporter(nr.AtofStreamSinkConfig("http://127.0.0.1:9/x"))  # type: ignore[arg-type]
    s = nr.AtofStreamSinkConfig("http://x")
    assert repr(s) == '<AtofStreamSinkConfig transport="http_post" url="http://x">'
    assert s.headers == {} and s.timeout_millis == 3000


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"sink_type": "bad"}, ValueError, "sink_type must be 'file' or 'stream'"),
        ({"sink_type": "stream"}, ValueError, "stream sink requires url"),
        ({"sink_type": "stream", "url": "   "}, ValueError, "stream sink requires url"),
        ({"sink_type": "stream", "url": "http://127.0.0.1:9/x", "transport": "grpc"}, ValueError, "endpoint transport"),
        ({"sink_type": "stream", "url": "http://127.0.0.1:9/x", "field_name_policy": "x"}, ValueError, "field_name"),
        ({"sink_type": "stream", "url": "not a url"}, RuntimeError, "invalid ATOF streaming endpoint"),
        (
            {"sink_type": "stream", "url": "http://127.0.0.1:9/x", "timeout_millis": 0},
            RuntimeError,
            "endpoint timeout_millis must be greater than 0",
        ),
        (
            {"sink_type": "stream", "url": "http://127.0.0.1:9/x", "header_env": {"authorization": "NR_UNSET_VAR"}},
            RuntimeError,
            'environment variable "NR_UNSET_VAR" for header "authorization" is not set',
        ),
        (
            {"sink_type": "stream", "url": "http://example.com/x", "headers": {"authorization": "t"}},
            RuntimeError,
            "configured headers require https for remote endpoints",
        ),
    ],
)
def test_config_values_are_checked_when_the_exporter_is_built(
    changes: dict[str, Any], error: type, message: str
) -> None:
    c = nr.AtofExporterConfig()
    for k, v in changes.items():
        setattr(c, k, v)
    with pytest.raises(error, match=message):
        nr.AtofExporter(c)


def test_file_sink_paths_and_permissions(tmp_path: Path) -> None:
    x = nr.AtofExporter(file_config(tmp_path / "a" / "b", "f.jsonl"))
    assert x.path == str(tmp_path / "a" / "b" / "f.jsonl")
    assert stat.S_IMODE(os.stat(x.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o700
    x.shutdown()
    with pytest.raises(RuntimeError, match="observability output must be a confined relative file path"):
        nr.AtofExporter(file_config(tmp_path, "../escape.jsonl"))
    os.symlink(tmp_path / "target.jsonl", tmp_path / "link.jsonl")
    with pytest.raises(RuntimeError, match="refusing symlinked observability file 'link.jsonl'"):
        nr.AtofExporter(file_config(tmp_path, "link.jsonl"))
    with pytest.raises(RuntimeError, match=r'failed to open ATOF output file "/proc/none/f.jsonl"'):
        nr.AtofExporter(file_config("/proc/none", "f.jsonl"))


def test_append_overwrite_and_lifecycle(tmp_path: Path) -> None:
    def body() -> None:
        path = tmp_path / "events.jsonl"
        path.write_text("old\n")
        a = nr.AtofExporter(file_config(tmp_path))
        a.register("life-a")
        with pytest.raises(RuntimeError, match="already exists: life-a subscriber already exists"):
            a.register("life-a")
        scope.event("one")
        a.shutdown()
        a.shutdown()  # harmless
        assert lines(path)[0] == "old" and len(lines(path)) == 2
        o = nr.AtofExporter(file_config(tmp_path, mode=nr.AtofExporterMode.Overwrite))
        assert path.read_text() == ""  # truncated when built
        o.register("life-o")
        o.register("life-o2")  # two names: every event twice
        scope.event("two")
        o.force_flush()
        assert len(lines(path)) == 2
        assert o.deregister("life-o") is True
        assert o.deregister("life-o") is False
        assert o.deregister("never") is False
        o.shutdown()
        assert o.deregister("life-o2") is False  # shutdown removed it
        d = o.diagnostics()
        assert d["events_written"] == 2 and d["queue_dropped"] == 0 and d["shut_down"] is True

    run_fresh(body)


def test_atif_surface(tmp_path: Path) -> None:
    def body() -> None:
        a = nr.AtifExporter("s-1", "agent", "0.1")
        assert a.export() == {
            "agent": {"name": "agent", "version": "0.1"},
            "final_metrics": {"total_steps": 0},
            "schema_version": "ATIF-v1.7",
            "session_id": "s-1",
            "steps": [],
            "trajectory_id": "s-1",
        }
        assert a.export_json() == (
            '{"schema_version":"ATIF-v1.7","session_id":"s-1","trajectory_id":"s-1","agent":{"name":"agent",'
            '"version":"0.1"},"steps":[],"final_metrics":{"total_steps":0}}'
        )
        with pytest.raises(TypeError):
            nr.AtifExporter("s", "a", "1", "model")  # type: ignore[misc]
        with pytest.raises(TypeError, match="'dict' object is not an instance of 'list'"):
            nr.AtifExporter("s", "a", "1", tool_definitions={"a": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="'None' is not an instance of 'str'"):
            nr.AtifExporter(None, "a", "1")  # type: ignore[arg-type]
        t = nr.AtifExporter("s", "a", "1", model_name="m", tool_definitions=["x"], extra=[1, 2])
        assert t.export()["agent"] == {"extra": [1, 2], "model_name": "m", "name": "a", "tool_definitions": ["x"], "version": "1"}

        scope.event("before-register")
        a.register("atif-surface")
        with pytest.raises(RuntimeError, match="already exists"):
            a.register("atif-surface")
        nr.llm.call_end(
            nr.llm.call("openai", nr.LLMRequest({}, {"messages": [{"role": "user", "content": "hi"}]})),
            {"choices": [{"message": {"role": "assistant", "content": "hello"}}]},
        )
        steps = a.export()["steps"]
        assert [s["source"] for s in steps] == ["user", "agent"]
        a.clear()
        assert a.export()["steps"] == []
        assert a.deregister("atif-surface") is True
        assert a.deregister("atif-surface") is False

    run_fresh(body)


# ---- third-party validation ---------------------------------------------------------------------


def test_outputs_validate_with_nvidia_nat_atif(tmp_path: Path) -> None:
    if os.environ.get("NEMO_RELAY_REQUIRE_NAT") == "1":
        import nat.atif  # noqa: F401 - fail loudly in CI when the validator is missing
    nat_io = pytest.importorskip("nat.atof.io")
    nat_atif = pytest.importorskip("nat.atif")
    out = exporter_scenario.run(tmp_path)
    events = nat_io.read_jsonl(str(tmp_path / exporter_scenario.ATOF_FILENAME))
    assert len(events) == len(out["atof"])
    trajectory = nat_atif.Trajectory.model_validate_json(out["atif_json"])
    assert len(trajectory.steps) == len(out["atif"]["steps"])


# ---- stream sinks against a real loopback receiver ----------------------------------------------


class Receiver:
    """Tests/support/http_receiver.py on 127.0.0.1, scripted per test."""

    def __init__(self, script: Any = None) -> None:
        args = [sys.executable, str(RECEIVER), "--idle-timeout", "60"]
        if script is not None:
            args += ["--script", json.dumps(script)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline())
        self.port = ready["port"]
        self.url = f"http://127.0.0.1:{self.port}/ingest"

    def requests(self) -> list[dict[str, Any]]:
        import base64
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__control/requests", timeout=10) as r:
            reqs = json.loads(r.read())["requests"]
        for q in reqs:
            q["body"] = base64.b64decode(q["body_b64"]).decode()
        return reqs

    def lines(self) -> list[str]:
        return [line for q in self.requests() for line in q["body"].split("\n") if line]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def receiver_factory() -> Any:
    made: list[Receiver] = []

    def make(script: Any = None) -> Receiver:
        r = Receiver(script)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def stream_config(url: str, **kw: Any) -> nr.AtofExporterConfig:
    c = nr.AtofExporterConfig()
    c.sink_type = "stream"
    c.url = url
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def test_stream_http_post_delivers_every_line(receiver_factory: Any) -> None:
    rx = receiver_factory()

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url, headers={"X-Api-Key": "k"}))
        assert x.path is None
        c = Collector("py-stream-lines")
        x.register("py-stream")
        try:
            for i in range(100):
                scope.event("m", data={"i": i})
            subscribers.flush()
            x.force_flush()
        finally:
            c.close()
            x.shutdown()
        assert rx.lines() == c.lines
        first = rx.requests()[0]
        headers = {k.lower(): v for k, v in first["headers"]}
        assert headers["content-type"] == "application/x-ndjson" and headers["x-api-key"] == "k"

    run_fresh(body)


def test_stream_retries_retryable_answers_and_loses_nothing(receiver_factory: Any) -> None:
    rx = receiver_factory([{"status": 429, "retry_after": "1"}, {"status": 503}, {"drop": True}])

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url))
        x.register("py-retry")
        scope.event("only")
        x.force_flush()
        x.shutdown()
        got = rx.lines()
        assert len(got) >= 3 and len(set(got)) == 1  # the same batch, resent until accepted
        d = x.diagnostics()
        assert d["events_sent"] == 1 and d["events_failed"] == 0 and d["retries"] >= 2

    run_fresh(body)


def test_stream_rejection_is_reported_from_force_flush(receiver_factory: Any) -> None:
    rx = receiver_factory([{"status": 400}])

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url))
        x.register("py-reject")
        scope.event("rejected")
        scope.event("only-once")  # may share the batch
        with pytest.raises(RuntimeError, match="400"):
            x.force_flush()
        assert len(rx.requests()) >= 1
        assert x.diagnostics()["events_failed"] >= 1
        with pytest.raises(RuntimeError):
            x.shutdown()

    run_fresh(body)


def test_stream_beyond_the_retry_budget_drops_are_counted(receiver_factory: Any) -> None:
    rx = receiver_factory({"script": [], "default": {"status": 503}})

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url, timeout_millis=500))
        x.register("py-budget")
        scope.event("lost")
        with pytest.raises(RuntimeError, match="dropped 1 event"):
            x.force_flush()
        assert x.diagnostics()["events_failed"] == 1
        with pytest.raises(RuntimeError):
            x.shutdown()

    run_fresh(body)


def test_stream_hang_never_slows_the_agent(receiver_factory: Any) -> None:
    rx = receiver_factory({"script": [], "default": {"hang_ms": 30000}})

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url, timeout_millis=300))
        x.register("py-hang")
        start = time.monotonic()
        for _ in range(2000):
            with scope.scope("step", nr.ScopeType.Function):
                pass
        emitting = time.monotonic() - start
        t0 = time.monotonic()
        x.shutdown()  # bounded: one request timeout plus 2 s, then what is queued is dropped and counted
        took = time.monotonic() - t0
        assert emitting < 5, emitting
        assert took < 6, took

    run_fresh(body)


def test_ndjson_is_one_upload_finished_at_shutdown(receiver_factory: Any) -> None:
    rx = receiver_factory()

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url, transport="ndjson"))
        c = Collector("py-nd-lines")
        x.register("py-nd")
        for i in range(30):
            scope.event("m", data={"i": i})
        subscribers.flush()
        x.shutdown()
        c.close()
        reqs = rx.requests()
        assert len(reqs) == 1 and reqs[0]["chunked"] and reqs[0]["complete"]
        assert rx.lines() == c.lines

    run_fresh(body)


def test_replace_dots_policy(receiver_factory: Any) -> None:
    rx = receiver_factory()

    def body() -> None:
        x = nr.AtofExporter(stream_config(rx.url, field_name_policy="replace_dots"))
        x.register("py-dots")
        scope.event("m.n", data={"a.b": 1, "a_b": 2}, metadata={"otel.status_code": "OK"})
        x.shutdown()
        (line,) = rx.lines()
        rec = json.loads(line)
        assert rec["data"] == {"a_b": 1, "a_b_2": 2}
        assert rec["metadata"] == {"otel_status_code": "OK"}
        assert rec["name"] == "m.n"  # values keep their dots

    run_fresh(body)


# ---- crash safety -------------------------------------------------------------------------------

_CHILD = """
import sys
import nemo_relay as nr
from nemo_relay import scope
c = nr.AtofExporterConfig()
c.output_directory = sys.argv[1]
c.filename = "killed.jsonl"
x = nr.AtofExporter(c)
x.register("killed")
print("ready", flush=True)
i = 0
while True:
    scope.event("tick", data={"i": i, "pad": "x" * 200})
    i += 1
"""


def test_sigkill_mid_run_leaves_only_whole_lines(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"ready"
    time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    data = (tmp_path / "killed.jsonl").read_bytes()
    whole = data[: data.rfind(b"\n") + 1]  # the kill may land inside a write(2): a torn last event
    assert data[len(whole) :].startswith(b'{"atof_version"'[: len(data) - len(whole)])
    # Appending to the file again drops the torn tail: every line is then a whole event.
    again = nr.AtofExporter(file_config(tmp_path, "killed.jsonl"))
    again.shutdown()
    data = (tmp_path / "killed.jsonl").read_bytes()
    assert data == whole and data.endswith(b"\n")
    records = [json.loads(line) for line in data.split(b"\n") if line]
    assert len(records) > 10
    assert [r["data"]["i"] for r in records] == list(range(len(records)))
