#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Records the public Python surface of a nemo_relay package: modules, ``__all__``, and each public
callable's parameters (name, kind, has a default).

    /tmp/ref/bin/python scripts/capture_python_surface.py > Tests/vectors/python_surface.json

Run with the reference (nemo-relay 0.10.4) it writes the vector that bindings/python/tests/test_surface.py
holds our package to; run with ours it shows what we expose.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
from typing import Any


def surface() -> dict[str, Any]:
    import nemo_relay

    names = ["nemo_relay"] + [
        "nemo_relay." + m.name for m in pkgutil.iter_modules(nemo_relay.__path__) if not m.name.startswith("_")
    ]
    out: dict[str, Any] = {}
    for mname in sorted(set(names)):
        try:
            mod = importlib.import_module(mname)
        except Exception as e:  # noqa: BLE001 - an optional module that cannot load is recorded as such
            out[mname] = {"error": f"{type(e).__name__}: {e}"}
            continue
        exported = getattr(mod, "__all__", None)
        members: dict[str, Any] = {}
        for n in sorted(exported or [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, n, None)
            if inspect.ismodule(obj):
                continue
            params = None
            if callable(obj):
                try:
                    params = [
                        [p.name, p.kind.name, p.default is not inspect.Parameter.empty]
                        for p in inspect.signature(obj).parameters.values()
                    ]
                except (TypeError, ValueError):
                    params = None
            kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "value"
            members[n] = {"kind": kind, "params": params}
        out[mname] = {"all": sorted(exported) if exported is not None else None, "members": members}
    return out


if __name__ == "__main__":
    json.dump(surface(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
