#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures Tests/vectors/logging.json: what the reference (nemo-relay 0.10.4) does with each logging
environment (docs/logging.md), run in a fresh interpreter.

    /tmp/nemo-relay-ref-venv/bin/python scripts/capture_logging_vectors.py > Tests/vectors/logging.json

Each case sets environment variables (``{dir}`` is a fresh directory holding the case's ``files``),
imports the package and runs ``SCRIPT``; recorded are whether the interpreter failed, its stderr and
the file sinks' contents, normalized by ``normalize`` (timestamps, relay ids, ``{dir}``, the Python
traceback frames, and the records of the reference's plugins, which this package does not have).
``bindings/python/tests/test_operational_logging.py`` replays every case against this package.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Any

#: Emits one record per level, with fields, then misuses the API twice.
SCRIPT = """
import sys
import nemo_relay as n
n.trace('t', target='x', fields={'a': 1})
n.debug('d')
n.info('i', fields={'s': 'v w', 'b': True, 'n': None, 'l': [1, 'x'], 'f': 1.5, 'g': 2.0})
n.warn('w', target='a.b')
n.error('e', fields={'z': 1, 'a': {'k': 'v'}})
n.log('warning', 'lw')
for bad in (lambda: n.log('INFO', 'x'), lambda: n.error('x', fields=[1]), lambda: n.info(1)):
    try:
        bad()
    except Exception as e:
        print(isinstance(e, RuntimeError), type(e).__name__ if not isinstance(e, RuntimeError) else '', e, file=sys.stderr)
"""

SINK = '[[logging.sinks]]\npath = "{dir}/sink.jsonl"\n'

CASES: list[dict[str, Any]] = [
    {"name": "default", "env": {}},
    {"name": "trace", "env": {"NEMO_RELAY_LOG": "trace"}},
    {"name": "warning_word", "env": {"NEMO_RELAY_LOG": "warning"}},
    {"name": "level_spaces_case", "env": {"NEMO_RELAY_LOG": " Info "}},
    {"name": "level_blank", "env": {"NEMO_RELAY_LOG": " "}},
    {"name": "level_empty", "env": {"NEMO_RELAY_LOG": ""}},
    {"name": "level_off", "env": {"NEMO_RELAY_LOG": "off"}},
    {"name": "debug_json", "env": {"NEMO_RELAY_LOG": "debug", "NEMO_RELAY_LOG_STDERR_FORMAT": "JSON"}},
    {"name": "jsonl_default_level", "env": {"NEMO_RELAY_LOG_STDERR_FORMAT": "jsonl"}},
    {"name": "stderr_yes", "env": {"NEMO_RELAY_LOG_STDERR": "YES"}},
    {"name": "stderr_empty", "env": {"NEMO_RELAY_LOG_STDERR": ""}},
    {"name": "stderr_off", "env": {"NEMO_RELAY_LOG_STDERR": "0", "NEMO_RELAY_LOG": "info"}},
    {"name": "stderr_true_info", "env": {"NEMO_RELAY_LOG_STDERR": " TRUE ", "NEMO_RELAY_LOG": "info"}},
    {"name": "format_xml", "env": {"NEMO_RELAY_LOG_STDERR_FORMAT": "xml"}},
    {"name": "format_empty", "env": {"NEMO_RELAY_LOG_STDERR_FORMAT": ""}},
    {"name": "config_empty", "env": {"NEMO_RELAY_LOG_CONFIG_PATH": ""}},
    {"name": "config_relative", "env": {"NEMO_RELAY_LOG_CONFIG_PATH": "rel.toml"}},
    {"name": "config_not_toml", "env": {"NEMO_RELAY_LOG_CONFIG_PATH": "{dir}/x.txt"}},
    {"name": "config_missing", "env": {"NEMO_RELAY_LOG_CONFIG_PATH": "{dir}/missing.toml"}},
    {"name": "config_combined", "env": {"NEMO_RELAY_LOG_CONFIG_PATH": "{dir}/c.toml", "NEMO_RELAY_LOG": "info"},
     "files": {"c.toml": "[logging]\n"}},
]

TOML: dict[str, str] = {
    "toml_empty": "",
    "toml_other_table": "[other]\nx = 1\n",
    "toml_debug": '[logging]\nlevel = "debug"\n',
    "toml_comments_jsonl": "# c\n[logging] # t\nlevel = \"info\" # c\nstderr_format = 'jsonl'\n",
    "toml_unknown_key": '[logging]\nlevel = "info"\ncolour = true\n',
    "toml_duplicate_key": '[logging]\nlevel = "info"\nlevel = "warn"\n',
    "toml_level_integer": "[logging]\nlevel = 3\n",
    "toml_stderr_string": '[logging]\nstderr_enabled = "x"\n',
    "toml_flush_negative": "[logging]\nflush_interval_millis = -1\n",
    "toml_flush_string": '[logging]\nflush_interval_millis = "x"\n',
    "toml_sinks_integer": "[logging]\nsinks = 1\n",
    "toml_logging_integer": "logging = 1\n",
    "toml_unclosed": '[logging\nlevel = "info"\n',
    "toml_sink_no_path": '[logging]\n[[logging.sinks]]\nlevel = "info"\n',
    "toml_sink_empty_path": '[logging]\n[[logging.sinks]]\npath = ""\n',
    "toml_sink_path_integer": '[logging]\nlevel = "info"\n\n[[logging.sinks]]\npath = 5\n',
    "toml_sink_queue_zero": "[logging]\n" + SINK + "queue_capacity = 0\n",
    "toml_sink_queue_big": "[logging]\n" + SINK + "queue_capacity = 100000\n",
    "toml_sink_queue_negative": "[logging]\n" + SINK + "queue_capacity = -1\n",
    "toml_sink_size_alone": "[logging]\n" + SINK + "max_file_size_bytes = 100\n",
    "toml_sink_size_zero": "[logging]\n" + SINK + "max_file_size_bytes = 0\nretained_files = 1\n",
    "toml_sink_retained_zero": "[logging]\n" + SINK + "max_file_size_bytes = 10\nretained_files = 0\n",
    "toml_sink_unknown_key": "[logging]\n" + SINK + 'kind = "file"\n',
    "toml_sink_duplicate_path": "[logging]\n" + SINK + SINK,
    "toml_sink_bad_level": "[logging]\n" + SINK + 'level = "loud"\n',
    "toml_stderr_disabled": '[logging]\nlevel = "info"\nstderr_enabled = false\n',
    "toml_extra_table": '[logging]\nlevel = "warn"\n[other]\ny = 2\n',
    "toml_sinks": '[logging]\nlevel = "trace"\nstderr_enabled = false\n\n' + SINK + 'level = "debug"\n\n'
    '[[logging.sinks]]\npath = "{dir}/deep/dir/human.log"\nformat = "human"\nlevel = "warn"\n',
    "toml_rotation": '[logging]\nlevel = "info"\nstderr_enabled = false\nflush_interval_millis = 0\n\n'
    '[[logging.sinks]]\npath = "{dir}/rot.jsonl"\nlevel = "warn"\nmax_file_size_bytes = 400\nretained_files = 1\n',
}
for _name, _text in TOML.items():
    CASES.append({"name": _name, "env": {"NEMO_RELAY_LOG_CONFIG_PATH": "{dir}/c.toml"}, "files": {"c.toml": _text}})

_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize(text: str, directory: str) -> list[str]:
    text = _UUID.sub("UUID", _TS.sub("TS", text.replace(directory, "{dir}")))
    text = re.sub(r"root=[0-9a-f]{8}", "root=R", text)
    out = []
    for line in text.splitlines():
        if "nemo_relay.plugin" in line or line.startswith(("Traceback", "  File ", "    ")):
            continue
        # The exception's class: the reference raises RuntimeError, this package a subclass of it.
        out.append(re.sub(r"^[\w.]*(RuntimeError|InvalidArgumentError): ", "RuntimeError: ", line))
    return out


def run(python: str, case: dict[str, Any], env_extra: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        for name, text in case.get("files", {}).items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text.replace("{dir}", d))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_RELAY_LOG")}
        env.update(env_extra)
        env.update({k: v.replace("{dir}", d) for k, v in case["env"].items()})
        r = subprocess.run([python, "-c", SCRIPT], env=env, capture_output=True, text=True, cwd=d, timeout=60)
        sinks = {}
        for root, _dirs, names in os.walk(d):
            for name in names:
                path = os.path.join(root, name)
                if name.endswith((".jsonl", ".log")):
                    with open(path) as f:
                        sinks[os.path.relpath(path, d)] = normalize(f.read(), d)
        return {"failed": r.returncode != 0, "stderr": normalize(r.stderr, d), "sinks": dict(sorted(sinks.items()))}


def main() -> None:
    env = {"PYTHONPATH": ""}
    cases = [{**c, "expected": run(sys.executable, c, env)} for c in CASES]
    json.dump({"source": "nemo-relay 0.10.4 (scripts/capture_logging_vectors.py)", "script": SCRIPT, "cases": cases},
              sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
