# SPDX-License-Identifier: Apache-2.0
"""Runtime diagnostics reach ``logging.getLogger("nemo_relay")`` (nemo_relay_runtime_set_log_callback)."""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import pytest
from conftest import arun

import nemo_relay
from nemo_relay import ToolExecutionResult, _runtime


def relay_records(caplog: Any) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "nemo_relay"]


def test_a_failing_sanitizer_is_logged_once_as_a_warning(caplog: Any, collector: Any) -> None:
    def bad(tool_name: str, args: Any) -> Any:
        raise KeyError("secret")

    nemo_relay.guardrails.register_tool_sanitize_request("log-bad", 1, bad)
    try:
        with caplog.at_level(logging.DEBUG, logger="nemo_relay"):

            async def main() -> Any:
                return await nemo_relay.tools.execute("logged-tool", {"a": 1}, lambda a: ToolExecutionResult(a))

            assert arun(main).result == {"a": 1}  # observability-only: the call succeeds
            collector.events()
    finally:
        nemo_relay.guardrails.deregister_tool_sanitize_request("log-bad")
    assert relay_records(caplog) == [
        (logging.WARNING, "Tool sanitize guardrail 'log-bad' failed: internal error: KeyError: 'secret'")
    ]
    start = next(e for e in collector.events() if e["name"] == "logged-tool")
    assert start["data"] is None  # the failing sanitizer cleared the payload


def test_an_invalid_injector_result_is_logged(caplog: Any, collector: Any) -> None:
    nemo_relay.event_metadata.register_injector("log-inj", 1, lambda ev: 5)
    try:
        with caplog.at_level(logging.WARNING, logger="nemo_relay"):
            nemo_relay.scope.event("log-mark")
            collector.events()
    finally:
        nemo_relay.event_metadata.deregister_injector("log-inj")
    assert (logging.WARNING, "Event metadata injector 'log-inj' returned invalid metadata: number") in relay_records(
        caplog
    )


@pytest.mark.parametrize(
    "severity, level",
    [(0, logging.DEBUG), (1, logging.DEBUG), (2, logging.INFO), (3, logging.WARNING), (4, logging.ERROR)],
)
def test_severities_map_to_logging_levels(caplog: Any, severity: int, level: int) -> None:
    msg = "diagnostic é".encode()
    buf = ctypes.create_string_buffer(msg, len(msg))
    with caplog.at_level(logging.DEBUG, logger="nemo_relay"):
        _runtime.LOG(severity, ctypes.addressof(buf), len(msg), None)
    assert relay_records(caplog) == [(level, "diagnostic é")]
