#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The project version has one source, the top-level ``VERSION`` file (``major.minor.patch``).

Every other place that spells it is derived from it and checked here (docs/packaging.md):

- ``include/nemo_relay.h``: ``NEMO_RELAY_VERSION_{MAJOR,MINOR,PATCH,NUMBER,STRING}`` (the C API, and
  through ``NEMO_RELAY_VERSION_NUMBER`` the runtime call ``nemo_relay_version_number``);
- ``Sources/NemoRelay/Version.swift``: ``RelayVersion.string`` (the runtime call ``nemo_relay_version``);
- ``bindings/python/pyproject.toml`` and ``nemo_relay.__version__``;
- ``bindings/node/package.json``;
- ``CHANGELOG.md``: its first ``## x.y.z`` heading;
- the packaged library's SONAME, ``libnemorelay.so.<major>`` (``scripts/package.sh`` reads ``--soname``).

Usage: ``version.py`` (check; exit 1 listing every disagreement), ``version.py --write`` (rewrite every
derived place from ``VERSION``), ``version.py --print`` / ``--soname`` / ``--major``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_version() -> tuple[int, int, int]:
    text = (ROOT / "VERSION").read_text().strip()
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    if not m:
        sys.exit(f"VERSION: expected major.minor.patch, got {text!r}")
    return int(m[1]), int(m[2]), int(m[3])


def places(v: tuple[int, int, int]) -> list[tuple[str, str, str, str]]:
    """(file, description, regex with one group, expected group value) for every derived spelling."""
    major, minor, patch = v
    s = f"{major}.{minor}.{patch}"
    number = major * 1_000_000 + minor * 1000 + patch
    h = "include/nemo_relay.h"
    return [
        (h, "NEMO_RELAY_VERSION_MAJOR", r"#define NEMO_RELAY_VERSION_MAJOR (\d+)", str(major)),
        (h, "NEMO_RELAY_VERSION_MINOR", r"#define NEMO_RELAY_VERSION_MINOR (\d+)", str(minor)),
        (h, "NEMO_RELAY_VERSION_PATCH", r"#define NEMO_RELAY_VERSION_PATCH (\d+)", str(patch)),
        (h, "NEMO_RELAY_VERSION_NUMBER", r"#define NEMO_RELAY_VERSION_NUMBER (\d+)", str(number)),
        (h, "NEMO_RELAY_VERSION_STRING", r'#define NEMO_RELAY_VERSION_STRING "([^"]*)"', s),
        (h, "nemo_relay_version example", r'@brief The library\'s version string, e\.g\. "([^"]*)"', s),
        ("Sources/NemoRelay/Version.swift", "RelayVersion.string", r'static let string: String = "([^"]*)"', s),
        ("bindings/python/pyproject.toml", "project.version", r'(?m)^version = "([^"]*)"', s),
        ("bindings/python/nemo_relay/__init__.py", "__version__", r'(?m)^__version__ = "([^"]*)"', s),
        ("bindings/node/package.json", "version", r'(?m)^  "version": "([^"]*)"', s),
        ("CHANGELOG.md", "first release heading", r"(?m)^## (\d+\.\d+\.\d+)", s),
    ]


def main(argv: list[str]) -> int:
    v = read_version()
    if "--print" in argv:
        print("%d.%d.%d" % v)
        return 0
    if "--major" in argv:
        print(v[0])
        return 0
    if "--soname" in argv:
        print(f"libnemorelay.so.{v[0]}")
        return 0
    write = "--write" in argv
    bad: list[str] = []
    for rel, what, pattern, want in places(v):
        path = ROOT / rel
        text = path.read_text()
        m = re.search(pattern, text)
        if not m:
            bad.append(f"{rel}: {what} not found")
            continue
        if m[1] == want:
            continue
        if write and not (rel == "CHANGELOG.md"):
            text = text[: m.start(1)] + want + text[m.end(1) :]
            path.write_text(text)
            print(f"{rel}: {what} {m[1]} -> {want}")
        else:
            bad.append(f"{rel}: {what} is {m[1]}, VERSION says {want}")
    # package.json must stay valid JSON with the same version.
    pkg = json.loads((ROOT / "bindings/node/package.json").read_text())
    if pkg.get("version") != "%d.%d.%d" % v:
        bad.append(f"bindings/node/package.json: version is {pkg.get('version')}")
    if bad:
        print("version check failed (the source is VERSION; `python3 scripts/version.py --write` rewrites the "
              "derived places, CHANGELOG.md needs a new heading by hand):", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    if not write:
        print("version check: %d.%d.%d everywhere (%d places)" % (*v, len(places(v))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
