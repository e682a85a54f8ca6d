# SPDX-License-Identifier: Apache-2.0
"""The hostile-input catalogue for the Python binding (issue 13; /work/notes/hostile-catalogue.md).

Each test is named after its catalogue entry: ``test_<entry>_<case>``. Entries that can take the
process down (process exit, shutdown in flight) run in a subprocess; everything has a time bound so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import nemo_relay
from nemo_relay import LLMRequest, guardrails, llm, scope, subscribers, tools
from conftest import Collector, arun, run_fresh

HERE = Path(__file__).resolve().parent
BINDING = HERE.parent


def run_child(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter with this binding importable; fails on a timeout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BINDING), str(HERE)])}
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child process hung for {timeout} s; stdout: {e.stdout!r}; stderr: {e.stderr!r}")


# ---- nan-infinity: JSON has no NaN or Infinity; they raise instead of becoming null ------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_infinity_in_request_content_raise_naming_the_path(bad: float) -> None:
    with pytest.raises(ValueError, match=r"is not JSON \(at \$\.messages\[0\]\.temperature\)"):
        LLMRequest({}, {"messages": [{"role": "user", "temperature": bad}]})


def test_nan_infinity_never_reach_the_provider_as_null() -> None:
    """The issue's report: a NaN put into a request (here by an intercept) reached the provider as ``null``."""
    seen: list[Any] = []

    def intercept(name: str, request: LLMRequest, annotated: Any) -> Any:
        return LLMRequest(request.headers, {**request.content, "score": math.nan}), annotated

    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            seen.append(req.content)
            return {"ok": True}

        with pytest.raises(ValueError, match=r"NaN is not JSON \(at \$\.score\)"):
            await llm.execute("m", LLMRequest({}, {"q": 1}), provider)

    nemo_relay.intercepts.register_llm_request("nan", 0, False, intercept)
    try:
        arun(main)
    finally:
        nemo_relay.intercepts.deregister_llm_request("nan")
    assert seen == []


def test_nan_infinity_returned_by_a_provider_fail_the_call() -> None:
    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            return {"choices": [{"logprob": -math.inf}]}

        with pytest.raises(ValueError, match=r"-Infinity is not JSON \(at \$\.choices\[0\]\.logprob\)"):
            await llm.execute("m", LLMRequest({}, {}), provider)

    arun(main)


def test_nan_infinity_in_tool_arguments_results_and_event_data() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=r"\(at \$\.x\)"):
            await tools.execute("t", {"x": math.nan}, lambda a: a)
        with pytest.raises(ValueError, match=r"Infinity is not JSON \(at \$\[1\]\)"):
            await tools.execute("t", {}, lambda a: [1, math.inf])

    arun(main)
    with pytest.raises(ValueError, match=r"\(at \$\.v\)"):
        scope.event("bad", data={"v": math.nan})


def test_nan_infinity_yielded_as_a_stream_chunk_fail_the_stream() -> None:
    async def main() -> None:
        async def provider(req: LLMRequest) -> Any:
            yield {"delta": 1.0}
            yield {"delta": math.nan}

        stream = await llm.stream_execute("m", LLMRequest({}, {}), provider, None, None)
        got = []
        with pytest.raises(ValueError, match=r"NaN is not JSON \(at \$\.delta\)"):
            async for c in stream:
                got.append(c)
        assert got == [{"delta": 1.0}]

    arun(main)
