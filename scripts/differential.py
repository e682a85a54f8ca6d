#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs one Python script against this repository's binding and against the reference; diffs the output.

The script must print one JSON document on stdout. It runs twice:

- ours: ``PYTHONPATH=bindings/python`` and ``NEMO_RELAY_LIB_PATH`` = the built ``libnemorelay.so``
  (``--lib``; by default the debug build, built with ``swift build --product nemorelay`` when missing
  or when ``--build`` is given);
- the reference: ``nemo-relay`` 0.10.4 installed in a virtual environment (``--ref-python``, default
  ``$REF_PYTHON`` or ``/tmp/nemo-relay-ref-venv/bin/python``), with ``PYTHONPATH`` cleared.

Before the script starts, each run checks that ``import nemo_relay`` resolves to the intended package.
Every ``{tmp}`` in the script's arguments becomes a fresh temporary directory per run. Both outputs are
normalised with ``exporter_scenario.Normaliser`` (uuids, timestamps, epoch seconds,
``time_to_first_chunk``, directories; see its docstring), then printed with sorted object keys, except
inside strings that hold compact JSON documents (such as ``export_json()``), which are expanded in their
own key order so that order differences show. Exit status: 0 same, 1 different (a unified diff, reference
first, on stdout), 2 a run failed.

Known reference noise: in about one run in three the reference writes the thread root instead of the
agent into the streaming LLM end event's ``propagation_root_uuid`` (``reference_nondeterminism`` in
``Tests/vectors/exporters.json``); rerun when that is the only difference.

Example::

    scripts/differential.py bindings/python/tests/exporter_scenario.py {tmp}
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))

from exporter_scenario import Normaliser  # noqa: E402  (found through the path set above)

#: Runs the script as ``__main__`` after checking which ``nemo_relay`` is imported.
BOOTSTRAP = """
import os, runpy, sys
script, expect = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[1:2] + sys.argv[3:]
sys.path[0] = os.path.dirname(os.path.abspath(script))
import nemo_relay
where = os.path.realpath(nemo_relay.__file__)
if not where.startswith(os.path.realpath(expect)):
    sys.exit(f"differential: nemo_relay imported from {where}, expected under {expect}")
runpy.run_path(script, run_name="__main__")
"""


def library(args: argparse.Namespace) -> Path:
    if args.lib:
        return Path(args.lib)
    bin_path = Path(
        subprocess.run(
            ["swift", "build", "--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    lib = bin_path / "libnemorelay.so"
    if args.build or not lib.exists():
        subprocess.run(["swift", "build", "--product", "nemorelay"], cwd=REPO, check=True, stdout=sys.stderr)
    return lib


def run(label: str, python: str, env: dict[str, str], expect: str, script: str, argv: list[str]) -> Any:
    with tempfile.TemporaryDirectory(prefix=f"differential-{label}-") as tmp:
        args = [a.replace("{tmp}", tmp) for a in argv]
        proc = subprocess.run(
            [python, "-c", BOOTSTRAP, script, expect, *args],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{label} run failed (exit {proc.returncode}):\n{proc.stderr}")
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"{label} run printed no JSON document ({e}):\n{proc.stdout[:2000]}") from e
        return Normaliser(outdir=tmp).value(doc)


def render(value: Any, indent: int = 0, sort: bool = True) -> list[str]:
    """Pretty-prints ``value`` one scalar per line; compact JSON texts inside strings are expanded."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out = [pad + "{"]
        for k in sorted(value) if sort else value:
            inner = render(value[k], indent + 1, sort)
            out.append(f"{pad}  {json.dumps(k, ensure_ascii=False)}: {inner[0].lstrip()}")
            out += inner[1:]
        return out + [pad + "}"]
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = [pad + "["]
        for v in value:
            out += render(v, indent + 1, sort)
        return out + [pad + "]"]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if parsed is not None and json.dumps(parsed, ensure_ascii=False, separators=(",", ":")) == value:
            inner = render(parsed, indent, sort=False)
            return [pad + "<compact JSON text> " + inner[0].lstrip()] + inner[1:]
    return [pad + json.dumps(value, ensure_ascii=False)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref-python", default=os.environ.get("REF_PYTHON", "/tmp/nemo-relay-ref-venv/bin/python"))
    p.add_argument("--python", default=sys.executable, help="interpreter for our binding (default: this one)")
    p.add_argument("--lib", help="libnemorelay.so to load (default: the debug build)")
    p.add_argument("--build", action="store_true", help="run swift build first")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    args = p.parse_args()
    script = str(Path(args.script).resolve())

    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEMO_RELAY_LIB_PATH")}
    ours_pkg = REPO / "bindings" / "python"
    ours_env = {**base, "PYTHONPATH": str(ours_pkg), "NEMO_RELAY_LIB_PATH": str(library(args))}
    ref_prefix = subprocess.run(
        [args.ref_python, "-c", "import sys; print(sys.prefix)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        ref = run("reference", args.ref_python, base, ref_prefix, script, args.args)
        ours = run("ours", args.python, ours_env, str(ours_pkg / "nemo_relay"), script, args.args)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(e, file=sys.stderr)
        return 2
    diff = list(difflib.unified_diff(render(ref), render(ours), "reference", "ours", lineterm=""))
    if diff:
        print("\n".join(diff))
        return 1
    print("no differences", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
