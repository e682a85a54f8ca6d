# SPDX-License-Identifier: Apache-2.0
"""Differential scenario: values that hold themselves, passed in and returned by callbacks.

Prints one JSON document: for each case, the outcome as ``[kind, text]`` where kind is ``ValueError``,
``RuntimeError`` (any ``RuntimeError`` that is not a ``ValueError``: ours are ``NemoRelayError``
subclasses) or ``ok``. Run it on both packages::

    scripts/differential.py bindings/python/tests/circular_scenario.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

import nemo_relay as nr


def cyclic_dict() -> Any:
    d: dict[str, Any] = {"a": 1}
    d["inner"] = {"back": [d]}
    return d


def cyclic_list() -> Any:
    xs: list[Any] = [1]
    xs.append(xs)
    return xs


def outcome(f: Callable[[], Any]) -> list[str]:
    try:
        r = f()
        if asyncio.iscoroutine(r):
            r = asyncio.run(r)
        return ["ok", ""]
    except ValueError as e:
        return ["ValueError", str(e)]
    except RuntimeError as e:
        return ["RuntimeError", str(e)]


async def awaited(f: Callable[[], Any]) -> Any:
    return await f()


def cases(make: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    async def async_provider(req: Any) -> Any:
        await asyncio.sleep(0)
        return make()

    def tool_request_intercept() -> Any:
        nr.intercepts.register_tool_request("cyc", 1, False, lambda name, args: make())
        try:
            return asyncio.run(awaited(lambda: nr.tools.execute("t", {"x": 1}, lambda a: nr.ToolExecutionResult(1))))
        finally:
            nr.intercepts.deregister_tool_request("cyc")

    def tool_result() -> Any:
        return awaited(lambda: nr.tools.execute("t", {"x": 1}, lambda a: nr.ToolExecutionResult(make())))

    return {
        "tool_args": lambda: awaited(lambda: nr.tools.execute("t", make(), lambda a: nr.ToolExecutionResult(1))),
        "tool_result": tool_result,
        "llm_request": lambda: awaited(lambda: nr.llm.execute("p", nr.LLMRequest({}, make()), lambda r: {"ok": 1})),
        "llm_result": lambda: awaited(lambda: nr.llm.execute("p", nr.LLMRequest({}, {"m": 1}), lambda r: make())),
        "llm_async_result": lambda: awaited(lambda: nr.llm.execute("p", nr.LLMRequest({}, {"m": 1}), async_provider)),
        "tool_request_intercept_result": tool_request_intercept,
        "mark_data": lambda: nr.scope.event("m", data=make()),
        "scope_input": lambda: nr.scope.push("s", nr.ScopeType.Agent, input=make()),
        "tool_call_args": lambda: nr.tools.call("t", make()),
        "llm_call_request": lambda: nr.llm.call("p", nr.LLMRequest({}, make())),
    }


makers = (("dict", cyclic_dict), ("list", cyclic_list))
out = {kind: {name: outcome(f) for name, f in cases(make).items()} for kind, make in makers}
print(json.dumps(out, indent=1, sort_keys=True))
