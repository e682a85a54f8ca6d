# SPDX-License-Identifier: Apache-2.0
"""Values that hold themselves fail as the reference's do (docs/python.md, "JSON crossing"); the
differential twin is circular_scenario.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nemo_relay import LLMRequest, ToolExecutionResult, intercepts, llm, scope, tools
from conftest import arun


def test_a_failure_without_an_object_is_a_callback_error_with_the_display_text() -> None:
    # A value that cannot be written fails inside the bridge: no exception object travels with it.
    def cyclic() -> Any:
        d: dict[str, Any] = {"a": 1}
        d["self"] = d
        return d

    async def main() -> None:
        with pytest.raises(RuntimeError) as info:
            await llm.execute("p", LLMRequest({}, {}), lambda r: cyclic())
        assert str(info.value) == "internal error: ValueError: Failed to convert to JSON: circular reference detected"

    arun(main)


# ---- values that hold themselves -----------------------------------------------------------------

CIRCULAR = "Failed to convert to JSON: circular reference detected"
CIRCULAR_RESULT = f"internal error: ValueError: {CIRCULAR}"


def _cyclic_dict() -> Any:
    d: dict[str, Any] = {"a": 1}
    d["inner"] = {"back": [d]}
    return d


def _cyclic_list() -> Any:
    xs: list[Any] = [1]
    xs.append(xs)
    return xs


@pytest.mark.parametrize("make", [_cyclic_dict, _cyclic_list])
def test_cyclic_inputs_raise_value_error_naming_the_circular_reference(make: Any) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=f"^{CIRCULAR}$"):
            await tools.execute("t", {"x": make()}, lambda a: ToolExecutionResult(1))
        with pytest.raises(ValueError, match=f"^{CIRCULAR}$"):
            await llm.execute("p", LLMRequest({}, {"x": make()}), lambda r: {})

    arun(main)
    with pytest.raises(ValueError, match=f"^{CIRCULAR}$"):
        scope.event("m", data=make())
    with pytest.raises(ValueError, match=f"^{CIRCULAR}$"):
        tools.call("t", make())


@pytest.mark.parametrize("make", [_cyclic_dict, _cyclic_list])
def test_cyclic_callback_results_fail_the_call_with_the_references_runtime_error(make: Any) -> None:
    async def main() -> None:
        async def provider(r: LLMRequest) -> Any:
            await asyncio.sleep(0)
            return make()

        for p in (lambda r: make(), provider):
            with pytest.raises(RuntimeError) as info:
                await llm.execute("p", LLMRequest({}, {}), p)
            assert str(info.value) == CIRCULAR_RESULT and not isinstance(info.value, ValueError)
        with pytest.raises(RuntimeError, match=f"^{CIRCULAR_RESULT}$"):
            await tools.execute("t", {}, lambda a: ToolExecutionResult(make()))

        intercepts.register_tool_request("cyc", 1, False, lambda name, args: make())
        try:
            with pytest.raises(RuntimeError, match=f"^{CIRCULAR_RESULT}$"):
                await tools.execute("t", {}, lambda a: ToolExecutionResult(1))
        finally:
            intercepts.deregister_tool_request("cyc")

    arun(main)


def test_a_value_raised_by_the_callback_itself_still_re_raises_as_itself() -> None:
    async def main() -> None:
        def provider(r: LLMRequest) -> Any:
            scope.event("inside", data=_cyclic_dict())  # raises ValueError inside the callback

        with pytest.raises(ValueError, match=f"^{CIRCULAR}$"):
            await llm.execute("p", LLMRequest({}, {}), provider)

    arun(main)


def test_shared_but_acyclic_values_and_deep_values_are_not_circular() -> None:
    shared = {"k": [1, 2]}

    async def main() -> Any:
        args = {"a": shared, "b": shared, "c": [shared, shared]}
        return await tools.execute("t", args, lambda a: ToolExecutionResult(a))

    out = arun(main)
    assert out.result == {"a": shared, "b": shared, "c": [shared, shared]}
    deep: Any = None
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nesting too deep"):
        scope.event("deep", data=deep)
