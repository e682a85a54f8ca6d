# SPDX-License-Identifier: Apache-2.0
"""Finds and loads ``libnemorelay`` and checks its version against the one this binding needs."""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

from . import _abi

#: The C API version this binding needs: the header's major, and the newest minor in which an export
#: it binds appeared (the ``@since`` of each export in ``_abi``). The library's major must be equal and
#: its minor at least this, so an older library fails here, not with an ``AttributeError`` later.
TARGET_MAJOR: int = _abi.VERSION[0]
TARGET_MINOR: int = max(since[1] for _name, since, _ret, _params in _abi.EXPORTS)

_LIB_NAMES = {"linux": "libnemorelay.so", "darwin": "libnemorelay.dylib", "win32": "nemorelay.dll"}


def _platform_dir() -> str:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{sys.platform}-{machine}"


def _candidates() -> list[str]:
    """The places looked at, in order (docs/packaging.md): ``NEMO_RELAY_LIB_PATH`` when set (and then only
    it), else the copy the wheel ships in ``_native/<platform>-<arch>/``, else the system loader's."""
    out: list[str] = []
    env = os.environ.get("NEMO_RELAY_LIB_PATH")
    if env:
        p = Path(env)
        # Accept the library file itself or the directory holding it.
        out.append(str(p / _LIB_NAMES.get(sys.platform, "libnemorelay.so")) if p.is_dir() else str(p))
        return out
    name = _LIB_NAMES.get(sys.platform, "libnemorelay.so")
    packaged = Path(__file__).parent / "_native" / _platform_dir() / name
    if packaged.exists():
        out.append(str(packaged))
        return out
    import ctypes.util  # only here: it costs ~6 ms of import time

    found = ctypes.util.find_library("nemorelay")
    out.append(found or name)
    return out


def load() -> ctypes.CDLL:
    """Loads the library or raises ``ImportError`` naming every place that was tried."""
    errors: list[str] = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
            continue
        check_version(lib)
        return lib
    raise ImportError(
        "nemo_relay: cannot load libnemorelay (set NEMO_RELAY_LIB_PATH to the built library); tried "
        + "; ".join(errors)
    )


def check_version(lib: ctypes.CDLL) -> None:
    """Fails unless the library's major equals ours and its minor is at least the one we target."""
    lib.nemo_relay_version_number.restype = ctypes.c_int32
    lib.nemo_relay_version_number.argtypes = []
    number = lib.nemo_relay_version_number()
    major, minor = number // 1_000_000, (number // 1000) % 1000
    if major != TARGET_MAJOR or minor < TARGET_MINOR:
        raise ImportError(
            f"nemo_relay: libnemorelay version {major}.{minor}.{number % 1000} is not compatible with this "
            f"binding, which targets {TARGET_MAJOR}.{TARGET_MINOR} (major must be equal, minor at least "
            f"{TARGET_MINOR})"
        )
