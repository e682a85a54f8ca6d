# SPDX-License-Identifier: Apache-2.0
"""Our public Python surface against the reference's (Tests/vectors/python_surface.json, recorded from
nemo-relay 0.10.4 by scripts/capture_python_surface.py): every function the reference exposes and we
implement takes the same parameters (names, kinds, defaults), so keyword calls written against the
reference work unchanged; what we do not implement is listed here, so a new gap fails."""

from __future__ import annotations

import importlib.util
import sys

from conftest import REPO, load_vectors

#: Reference modules and members this package does not provide (see docs/python.md).
NOT_PROVIDED_MODULES = {
    "nemo_relay.adaptive",
    "nemo_relay.integrations",
    "nemo_relay.model_pricing",
    "nemo_relay.observability",
    "nemo_relay.pii_redaction",
    "nemo_relay.plugin",
    "nemo_relay.resource_metrics",
    "nemo_relay.runtime_registrations",
    "nemo_relay.utils",
}
NOT_PROVIDED_MEMBERS = {
    ("nemo_relay", "LlmSanitizeRequestCodec"),
    ("nemo_relay", "LlmSanitizeResponseCodec"),
    ("nemo_relay", "MetricTemporality"),
    ("nemo_relay", "OpenTelemetryLogConfig"),
    ("nemo_relay", "OpenTelemetryLogSubscriber"),
    ("nemo_relay", "OpenTelemetryMetricConfig"),
    ("nemo_relay", "OpenTelemetryMetricSubscriber"),
}

REFERENCE = load_vectors("python_surface.json")


def _ours() -> dict:
    script = REPO / "scripts" / "capture_python_surface.py"
    spec = importlib.util.spec_from_file_location("capture_python_surface", script)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("capture_python_surface", mod)
    spec.loader.exec_module(mod)
    return mod.surface()


OURS = _ours()


def test_every_reference_module_is_provided_or_listed() -> None:
    missing = {m for m in REFERENCE if m not in OURS}
    assert missing == NOT_PROVIDED_MODULES


def test_every_reference_member_is_provided_or_listed() -> None:
    missing = {
        (m, n) for m, e in REFERENCE.items() if m in OURS for n in e.get("members", {}) if n not in OURS[m]["members"]
    }
    assert missing == NOT_PROVIDED_MEMBERS


def test_reference_all_lists_are_covered() -> None:
    for m, e in REFERENCE.items():
        if m not in OURS or e.get("all") is None:
            continue
        gap = set(e["all"]) - set(OURS[m]["all"] or []) - {n for mm, n in NOT_PROVIDED_MEMBERS if mm == m}
        gap -= {x.removeprefix("nemo_relay.") for x in NOT_PROVIDED_MODULES}
        assert not gap, f"{m}.__all__ lacks {sorted(gap)}"


def test_functions_take_the_reference_parameters() -> None:
    differ = {}
    for m, e in REFERENCE.items():
        for n, ref in e.get("members", {}).items():
            ours = OURS.get(m, {}).get("members", {}).get(n)
            if ours is None or ref["params"] is None or ours["params"] is None:
                continue
            # Native classes of the reference take no Python-level constructor arguments; compare the
            # functions and the Python classes (value codecs, configs) that do.
            if ref["kind"] == "function" or (ref["kind"] == "class" and ref["params"]):
                if ref["params"] != ours["params"]:
                    differ[f"{m}.{n}"] = (ref["params"], ours["params"])
    assert not differ, differ
