# SPDX-License-Identifier: Apache-2.0
"""Misuse after close, cancellation of tool calls, and scope isolation across threads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import arun, run_fresh

import nemo_relay
from nemo_relay import LLMRequest, ScopeType, ToolExecutionResult

scope, llm, tools = nemo_relay.scope, nemo_relay.llm, nemo_relay.tools


def test_closed_handles_refuse_every_use() -> None:
    def body() -> None:
        h = scope.push("closing", ScopeType.Function)
        scope.pop(h)
        h.close()
        with pytest.raises(ValueError, match="^handle is closed$"):
            scope.push("child", ScopeType.Function, handle=h)
        with pytest.raises(ValueError, match="^handle is closed$"):
            scope.event("m", handle=h)
        with pytest.raises(ValueError, match="^handle is closed$"):
            h.uuid  # noqa: B018 - the property reads the closed handle

        lh = llm.call("manual", LLMRequest({}, {}))
        lh.close()
        with pytest.raises(ValueError, match="^handle is closed$"):
            llm.call_end(lh, {})
        th = tools.call("manual-tool", {})
        th.close()
        with pytest.raises(ValueError, match="^handle is closed$"):
            tools.call_end(th, ToolExecutionResult({}))

    run_fresh(body)


def test_a_popped_scope_cannot_be_popped_again() -> None:
    def body() -> None:
        h = scope.push("once", ScopeType.Function)
        scope.pop(h)
        with pytest.raises(RuntimeError, match="^(not found|invalid argument): "):
            scope.pop(h)

    run_fresh(body)


def test_use_after_runtime_shutdown_is_a_misuse_error() -> None:
    """After the atexit shutdown every call fails with MisuseError instead of reaching freed state."""
    code = (
        "import nemo_relay\n"
        "from nemo_relay import _runtime, ScopeType\n"
        "nemo_relay.scope.push('before', ScopeType.Function)\n"
        "_runtime._shutdown()\n"
        "try:\n"
        "    nemo_relay.scope.push('after', ScopeType.Function)\n"
        "except nemo_relay.MisuseError as e:\n"
        "    print('misuse:', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "misuse: misuse: the nemo_relay runtime was shut down at interpreter exit"


def test_cancelling_a_tool_call_cancels_its_function(collector: Any) -> None:
    state: dict[str, Any] = {}

    async def slow_tool(args: Any) -> Any:
        state["started"].set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise
        return ToolExecutionResult(args)

    async def main() -> None:
        state["started"] = asyncio.Event()
        fut = tools.execute("cancel-tool", {"a": 1}, slow_tool)
        await state["started"].wait()
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        await asyncio.sleep(0)

    arun(main)
    assert state.get("cancelled") is True
    end = [e for e in collector.events() if e["name"] == "cancel-tool"][-1]
    assert end["scope_category"] == "end" and end["metadata"]["otel.status_code"] == "ERROR"


def test_a_new_thread_starts_from_its_own_root_unless_given_a_stack() -> None:
    seen: dict[str, Any] = {}

    def body() -> None:
        with scope.scope("outer", ScopeType.Agent) as outer:
            shared = nemo_relay.propagate_scope_to_thread()

            def fresh() -> None:
                seen["fresh"] = scope.get_handle().name

            def joined() -> None:
                nemo_relay.set_thread_scope_stack(shared)
                seen["joined"] = scope.get_handle().uuid

            for fn in (fresh, joined):
                t = threading.Thread(target=fn)
                t.start()
                t.join()
            seen["outer"] = outer.uuid

    run_fresh(body)
    assert seen["fresh"] != "outer"
    assert seen["joined"] == seen["outer"]
