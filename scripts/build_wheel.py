#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the platform wheel of ``nemo-relay`` with the packaged library inside, and the sdist.

The wheel is ``nemo_relay-<v>-py3-none-<platform>.whl``: pure-Python code (ctypes, so one wheel serves
every CPython 3.11+) plus ``nemo_relay/_native/<sys.platform>-<machine>/libnemorelay.so``, which
``nemo_relay._lib`` loads when ``NEMO_RELAY_LIB_PATH`` is unset. The platform tag is derived from the
highest ``GLIBC_2.N`` symbol version the library really needs (``manylinux_2_N_<arch>``); CI checks it
with ``auditwheel show`` (docs/packaging.md). Metadata comes from ``bindings/python/pyproject.toml``.

The sdist carries the binding alone (no library): it installs on any platform and finds the library
through ``NEMO_RELAY_LIB_PATH`` or the system loader (a prefix installed by ``scripts/install.sh``).

    build_wheel.py --lib dist/.../libnemorelay.so --arch x86_64 --out dist [--sdist]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / "bindings" / "python"
#: Fixed timestamp for reproducible archives (2026-01-01).
EPOCH = 1767225600


def glibc_floor(lib: Path) -> tuple[int, int]:
    """The highest GLIBC_x.y version the library's dynamic symbols require."""
    out = subprocess.run(["objdump", "-T", str(lib)], check=True, capture_output=True, text=True).stdout
    versions = {(int(a), int(b)) for a, b in re.findall(r"\bGLIBC_(\d+)\.(\d+)", out)}
    if not versions:
        sys.exit(f"{lib}: no GLIBC symbol versions found")
    return max(versions)


def metadata(project: dict, readme: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"License: {project['license']['text']}",
        f"Requires-Python: {project['requires-python']}",
    ]
    for dep in project.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for dep in deps:
            lines.append(f'Requires-Dist: {dep}; extra == "{extra}"')
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def package_files() -> list[Path]:
    """The binding's sources: every ``.py`` and ``py.typed`` under ``nemo_relay/`` (subpackages included),
    minus caches and any ``_native`` folder of a development install."""
    pkg = PY / "nemo_relay"
    files = sorted(
        p
        for p in pkg.rglob("*")
        if p.is_file()
        and (p.suffix == ".py" or p.name == "py.typed")
        and not {"__pycache__", "_native"} & set(p.relative_to(pkg).parts)
    )
    if not files:
        sys.exit(f"{pkg}: no sources")
    return files


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if executable else 0o644) << 16
    zf.writestr(info, data, compresslevel=9)


def build_wheel(lib: Path, arch: str, out: Path) -> Path:
    pyproject = tomllib.loads((PY / "pyproject.toml").read_text())
    project = pyproject["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    major, minor = glibc_floor(lib)
    plat = f"manylinux_{major}_{minor}_{arch}"
    native = f"nemo_relay/_native/linux-{arch}/libnemorelay.so"
    dist_info = f"{name}-{version}.dist-info"
    wheel = out / f"{name}-{version}-py3-none-{plat}.whl"
    records: list[str] = []
    with zipfile.ZipFile(wheel, "w") as zf:
        for f in package_files():
            name = f.relative_to(PY).as_posix()
            data = f.read_bytes()
            add(zf, name, data)
            records.append(record_line(name, data))
        data = lib.read_bytes()
        add(zf, native, data, executable=True)
        records.append(record_line(native, data))
        meta = {
            "METADATA": metadata(project, (PY / "README.md").read_text()),
            "WHEEL": f"Wheel-Version: 1.0\nGenerator: nemo-relay scripts/build_wheel.py\n"
            f"Root-Is-Purelib: false\nTag: py3-none-{plat}\n",
            "top_level.txt": "nemo_relay\n",
        }
        for fname, text in meta.items():
            data = text.encode()
            add(zf, f"{dist_info}/{fname}", data)
            records.append(record_line(f"{dist_info}/{fname}", data))
        records.append(f"{dist_info}/RECORD,,")
        add(zf, f"{dist_info}/RECORD", ("\n".join(records) + "\n").encode())
    return wheel


def build_sdist(out: Path) -> Path:
    pyproject = tomllib.loads((PY / "pyproject.toml").read_text())
    project = pyproject["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    base = f"{name}-{version}"
    target = out / f"{base}.tar.gz"
    files = [PY / "pyproject.toml", PY / "README.md", *package_files()]
    pkg_info = metadata(project, (PY / "README.md").read_text()).encode()

    def entry(arcname: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
        info = tarfile.TarInfo(f"{base}/{arcname}")
        info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
        return info, io.BytesIO(data)

    with open(target, "wb") as raw:
        import gzip

        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=EPOCH) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
            tf.addfile(*entry("PKG-INFO", pkg_info))
            for f in files:
                tf.addfile(*entry(str(f.relative_to(PY)), f.read_bytes()))
    return target


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", type=Path, required=True, help="the stripped, self-contained libnemorelay.so")
    ap.add_argument("--arch", required=True, help="x86_64 or aarch64 (the wheel's machine)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sdist", action="store_true", help="also write the sdist")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    print(build_wheel(a.lib, a.arch, a.out))
    if a.sdist:
        print(build_sdist(a.out))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
