# SPDX-License-Identifier: Apache-2.0
"""Operational logging (docs/logging.md) configured from the environment at import: every case of
Tests/vectors/logging.json (what the reference does with that environment, captured by
scripts/capture_logging_vectors.py) replayed in a fresh interpreter against this package."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import REPO, load_vectors

_spec = importlib.util.spec_from_file_location("capture_logging_vectors", REPO / "scripts" / "capture_logging_vectors.py")
assert _spec and _spec.loader
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)

VECTORS = load_vectors("logging.json")
CASES = VECTORS["cases"]


def ours_env() -> dict[str, str]:
    env = {"PYTHONPATH": str(REPO / "bindings" / "python")}
    if "NEMO_RELAY_LIB_PATH" in os.environ:
        env["NEMO_RELAY_LIB_PATH"] = os.environ["NEMO_RELAY_LIB_PATH"]
    return env


def test_the_vectors_run_the_capture_script() -> None:
    assert VECTORS["script"] == capture.SCRIPT
    assert [c["name"] for c in CASES] == [c["name"] for c in capture.CASES]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_environment_is_applied_as_the_reference_applies_it(case: dict[str, Any]) -> None:
    got = capture.run(sys.executable, case, ours_env())
    assert got == case["expected"]


def run(source: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_RELAY_LOG")}
    e.update(ours_env())
    e.update(env)
    return subprocess.run([sys.executable, "-c", source], env=e, capture_output=True, text=True, timeout=60)


def test_file_sinks_are_flushed_every_interval_and_at_exit(tmp_path: Any) -> None:
    config = tmp_path / "logging.toml"
    log = tmp_path / "relay.jsonl"
    config.write_text(
        f'[logging]\nlevel = "info"\nstderr_enabled = false\nflush_interval_millis = 100\n\n'
        f"[[logging.sinks]]\npath = {json.dumps(str(log))}\n"
    )
    source = f"""
import os, time, nemo_relay
nemo_relay.info("first")
deadline = time.monotonic() + 5
while b"first" not in open({str(log)!r}, "rb").read():
    assert time.monotonic() < deadline, "no periodic flush"
    time.sleep(0.02)
nemo_relay.info("last")
"""
    r = run(source, NEMO_RELAY_LOG_CONFIG_PATH=str(config))
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [x["message"] for x in records] == [
        "Operational logging initialized",
        "first",
        "last",
        "Operational logging shutdown started",
    ]
    assert len({x["root_relay_id"] for x in records}) == 1


def test_a_killed_process_loses_what_was_not_flushed(tmp_path: Any) -> None:
    config = tmp_path / "logging.toml"
    log = tmp_path / "relay.jsonl"
    config.write_text(
        f'[logging]\nlevel = "info"\nflush_interval_millis = 0\n[[logging.sinks]]\npath = {json.dumps(str(log))}\n'
    )
    r = run("import os, nemo_relay; nemo_relay.error('lost'); os._exit(0)", NEMO_RELAY_LOG_CONFIG_PATH=str(config))
    assert r.returncode == 0
    assert log.read_text() == ""  # as the reference: the buffer dies with the process
    assert "ERROR" in r.stderr and "lost" in r.stderr  # stderr is written at once


def test_runtime_diagnostics_still_reach_python_logging() -> None:
    # The Python runtime routes its diagnostics to logging.getLogger("nemo_relay") (test_logging.py), so
    # they do not reach the operational log twice.
    source = """
import nemo_relay
nemo_relay.event_metadata.register_injector("inj", 1, lambda ev: 5)
nemo_relay.scope.event("m")
nemo_relay.subscribers.flush() if hasattr(nemo_relay.subscribers, "flush") else None
"""
    r = run(source, NEMO_RELAY_LOG="trace")
    assert r.returncode == 0, r.stderr
    assert "target=nemo_relay.runtime" not in r.stderr
