# SPDX-License-Identifier: Apache-2.0
"""One fixed agent run observed by an ATOF (JSONL file) and an ATIF exporter, plus the normaliser.

The run uses only the public ``nemo_relay`` surface shared by this binding and the reference package
(``nemo-relay`` on PyPI), so the same file runs against whichever ``nemo_relay`` is importable::

    python exporter_scenario.py OUTDIR            # prints {"atof": [...], "atif": {...}, "atif_json": "..."}
    python exporter_scenario.py --normalise OUTDIR  # the same, normalised (see ``normalise``)

``scripts/capture_exporter_vectors.sh`` runs it under the reference to produce
``Tests/vectors/exporters.json``; ``scripts/differential.py`` uses ``normalise`` to compare two runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

DESCRIPTION = (
    "One agent run on a fresh context observed by an AtofExporter (file sink, overwrite mode) and an "
    "AtifExporter registered together: an Agent scope with a mark; an OpenAI Chat call answered with a "
    "tool call and usage with cached tokens; the managed tool call answering that id; a second call "
    "answered with text; a mark; a call whose provider raises; a streamed call on a new user turn; a "
    "nested sub-agent scope with one call; a final mark. Both exporters are flushed, then the JSONL "
    "file is read back and the trajectory exported."
)

#: What the run does, in order (mirrors ``_run``).
CALLS = [
    (
        "AtofExporter(sink_type='file', output_directory=OUTDIR, filename='events.jsonl', mode=Overwrite)"
        ".register('scenario-atof')"
    ),
    (
        "AtifExporter('session-1', 'demo-agent', '1.0.0', model_name='gpt-4o-mini', tool_definitions=[get_weather], "
        "extra={'run': 'exporter-scenario', 'tags': ['golden']}).register('scenario-atif')"
    ),
    "scope('demo-agent', Agent, input={'task': 'weather report'}, metadata={'session_id': 'session-1'})",
    "event('plan-ready', data={'steps': 3})",
    (
        "llm.execute('openai', <system+user+tools>, codec=response_codec=OpenAIChatCodec) -> tool call "
        "call_weather_1 get_weather({'city': 'Paris'}), usage 120/18 (cached 32)"
    ),
    (
        "tools.execute('get_weather', {'city': 'Paris'}, tool_call_id='call_weather_1') "
        "-> ToolExecutionResult({'temp_c': 18, ...}, annotation={'source': 'cache'})"
    ),
    "llm.execute('openai', <history + tool message>) -> text, usage 160/12 (cached 64)",
    "event('answer-ready', metadata={'confidence': 'high'})",
    "llm.execute('openai', <new user turn>) whose provider raises ConnectionError('upstream unavailable')",
    "llm.stream_execute('openai', <new user turn, stream>) with 4 chat.completion.chunk chunks",
    "scope('research-subagent', Agent) with one llm.execute -> text, usage 40/6",
    "event('run-finished')",
    "atof.force_flush(); atif.export(); atif.export_json(); deregister both; atof.shutdown()",
]

ATOF_FILENAME = "events.jsonl"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

SYSTEM = {"role": "system", "content": "You are a concise weather assistant."}
USER_1 = {"role": "user", "content": "What is the weather in Paris?"}
TOOL_CALL = {
    "id": "call_weather_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}
ASSISTANT_1 = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
TOOL_RESULT = {"temp_c": 18, "condition": "cloudy", "city": "Paris"}
TOOL_MESSAGE = {"role": "tool", "tool_call_id": "call_weather_1", "content": json.dumps(TOOL_RESULT)}
ANSWER = "It is 18 °C and cloudy in Paris."
USER_2 = {"role": "user", "content": "And tomorrow?"}
USER_3 = {"role": "user", "content": "Say it as a haiku."}

RESPONSE_1 = {
    "id": "chatcmpl-scenario-1",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 18,
        "total_tokens": 138,
        "prompt_tokens_details": {"cached_tokens": 32},
    },
}

RESPONSE_2 = {
    "id": "chatcmpl-scenario-2",
    "object": "chat.completion",
    "created": 1767225601,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 160,
        "completion_tokens": 12,
        "total_tokens": 172,
        "prompt_tokens_details": {"cached_tokens": 64},
    },
}

SUB_RESPONSE = {
    "id": "chatcmpl-scenario-sub",
    "object": "chat.completion",
    "created": 1767225603,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Source: Météo-France."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46},
}


def _chunk(content: str | None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": "chatcmpl-scenario-stream",
        "object": "chat.completion.chunk",
        "created": 1767225602,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {} if content is None else {"content": content}, "finish_reason": finish}],
    }
    if usage is not None:
        c["usage"] = usage
    return c


STREAM_CHUNKS = [
    _chunk("Grey sky"),
    _chunk(" over Paris,"),
    _chunk(" eighteen degrees."),
    _chunk(None, "stop", {"prompt_tokens": 190, "completion_tokens": 9, "total_tokens": 199}),
]


def _body(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": messages, "tools": [WEATHER_TOOL], **extra}


class AgentRun:
    """The steps of the agent run, shared with ``otel_scenario.py``: one codec and one set of request headers
    for the whole run; ``seen(label, req)``, when given, is told of every request a provider receives."""

    def __init__(self, nr: Any, seen: Any = None) -> None:
        from nemo_relay.codecs import OpenAIChatCodec

        self.nr = nr
        self.codec = OpenAIChatCodec()
        self.headers = {"authorization": "Bearer sk-scenario", "x-request-id": "req-1"}
        self.seen = seen

    def _saw(self, label: str, req: Any) -> None:
        if self.seen is not None:
            self.seen(label, req)

    def answer(self, label: str, response: Any) -> Any:
        """A provider answering ``response``."""

        async def provider(req: Any) -> Any:
            self._saw(label, req)
            return response

        return provider

    async def call(self, body: dict[str, Any], provider: Any, **extra: Any) -> Any:
        """``llm.execute`` for the OpenAI provider with the run's headers and codec."""
        return await self.nr.llm.execute(
            "openai",
            self.nr.LLMRequest(self.headers, body),
            provider,
            **extra,
            model_name="gpt-4o-mini",
            codec=self.codec,
            response_codec=self.codec,
        )

    async def first_call(self, **extra: Any) -> None:
        """The first call, answered with the tool call ``call_weather_1``."""
        await self.call(_body([SYSTEM, USER_1]), self.answer("tool-call", RESPONSE_1), **extra)

    async def tool_answer_failure(self) -> list[Any]:
        """The managed tool call, the call answered with text, the ``answer-ready`` mark, then a call on a new
        user turn whose provider raises; returns the conversation so far."""
        nr = self.nr

        def get_weather(args: Any) -> Any:
            return nr.ToolExecutionResult({**TOOL_RESULT, "city": args["city"]}, annotation={"source": "cache"})

        await nr.tools.execute("get_weather", {"city": "Paris"}, get_weather, tool_call_id="call_weather_1")

        history = [SYSTEM, USER_1, ASSISTANT_1, TOOL_MESSAGE]
        await self.call(_body(history), self.answer("text", RESPONSE_2))
        nr.scope.event("answer-ready", metadata={"confidence": "high"})

        history = history + [{"role": "assistant", "content": ANSWER}, USER_2]

        async def failing(req: Any) -> Any:
            self._saw("failing", req)
            raise ConnectionError("upstream unavailable")

        try:
            await self.call(_body(history), failing)
        except ConnectionError:
            pass
        else:
            raise AssertionError("the failing provider's error did not propagate")
        return history

    async def stream_subagent_finish(self, history: list[Any]) -> None:
        """The streamed call on a new user turn, the sub-agent scope with one call, the ``run-finished`` mark."""
        nr = self.nr
        history = history + [USER_3]
        collected: list[str] = []
        usage: dict[str, Any] = {}

        async def streaming(req: Any) -> Any:
            self._saw("stream", req)
            for chunk in STREAM_CHUNKS:
                yield chunk

        def collect(chunk: Any) -> None:
            for choice in chunk.get("choices") or []:
                collected.append(choice.get("delta", {}).get("content") or "")
            usage.update(chunk.get("usage") or {})

        def finalize() -> Any:
            return {
                "id": "chatcmpl-scenario-stream",
                "object": "chat.completion",
                "created": 1767225602,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(collected)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }

        stream = await nr.llm.stream_execute(
            "openai",
            nr.LLMRequest(self.headers, _body(history, stream=True)),
            streaming,
            collect,
            finalize,
            attributes=nr.LLMAttributes(nr.LLMAttributes.STREAMING),
            model_name="gpt-4o-mini",
            codec=self.codec,
            response_codec=self.codec,
        )
        chunks = [c async for c in stream]
        if chunks != STREAM_CHUNKS:
            raise AssertionError(f"stream delivered {chunks!r}")

        with nr.scope.scope("research-subagent", nr.ScopeType.Agent, input={"question": "source?"}):
            await self.call(
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Cite the source."}]},
                self.answer("subagent", SUB_RESPONSE),
            )
        nr.scope.event("run-finished")


async def _run(nr: Any) -> None:
    """The agent run itself; events reach whichever exporters are registered."""
    run = AgentRun(nr)
    with nr.scope.scope(
        "demo-agent", nr.ScopeType.Agent, input={"task": "weather report"}, metadata={"session_id": "session-1"}
    ):
        nr.scope.event("plan-ready", data={"steps": 3})
        await run.first_call()
        history = await run.tool_answer_failure()
        await run.stream_subagent_finish(history)


def run(outdir: str | os.PathLike[str]) -> dict[str, Any]:
    """Runs the scenario with both exporters registered; returns the JSONL records and the trajectory."""
    import nemo_relay as nr

    outdir = Path(outdir)
    config = nr.AtofExporterConfig()
    config.sink_type = "file"
    config.output_directory = str(outdir)
    config.filename = ATOF_FILENAME
    config.mode = nr.AtofExporterMode.Overwrite
    atof = nr.AtofExporter(config)
    atif = nr.AtifExporter(
        "session-1",
        "demo-agent",
        "1.0.0",
        model_name="gpt-4o-mini",
        tool_definitions=[WEATHER_TOOL],
        extra={"run": "exporter-scenario", "tags": ["golden"]},
    )
    atof.register("scenario-atof")
    atif.register("scenario-atif")
    try:
        # A fresh context: its own scope stack and root, like a new thread.
        contextvars.Context().run(lambda: asyncio.run(_run(nr)))
        atof.force_flush()
        trajectory = atif.export()
        trajectory_json = atif.export_json()
    finally:
        atif.deregister("scenario-atif")
        atof.deregister("scenario-atof")
        atof.shutdown()
    # Records end with "\n"; split on it alone (str.splitlines also splits inside strings at U+2028 and
    # friends, which JSON writers leave unescaped).
    lines = Path(atof.path).read_text(encoding="utf-8").split("\n")
    return {"atof": [json.loads(line) for line in lines if line], "atif": trajectory, "atif_json": trajectory_json}


# ---------------------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------------------

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
#: Epoch-second numbers of ATIF ``invocation`` objects, as JSON text (inside ``atif_json`` strings).
EPOCH_TEXT_RE = re.compile(r'("(?:start|end)_timestamp"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)')
EPOCH_KEYS = ("start_timestamp", "end_timestamp")
SECONDS_KEYS = ("time_to_first_chunk",)
SECONDS_TEXT_RE = re.compile(r'("time_to_first_chunk"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)')


def _instant(ts: str) -> tuple[str, int]:
    """The UTC instant of an RFC 3339 string as (date-time to the second, nanoseconds), offset applied."""
    from datetime import datetime, timedelta

    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", ts)
    if m is None:
        return (ts, 0)
    base = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}")
    off = m.group(4)
    if off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        base -= sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    frac = (m.group(3) or "")[:9].ljust(9, "0")
    return (base.isoformat(), int(frac))


def _canonical(instant: tuple[str, int]) -> str:
    """The reference's rendering of an instant: UTC as ``+00:00``, 0, 3, 6 or 9 fraction digits (the fewest
    that show every non-zero digit; chrono's ``to_rfc3339``)."""
    base, ns = instant
    if ns == 0:
        frac = ""
    elif ns % 1_000_000 == 0:
        frac = f".{ns // 1_000_000:03d}"
    elif ns % 1_000 == 0:
        frac = f".{ns // 1_000:06d}"
    else:
        frac = f".{ns:09d}"
    return f"{base}{frac}+00:00"


class Normaliser:
    """Replaces run-dependent values by placeholders numbered by first appearance.

    - uuids (anywhere, also inside strings) -> ``<uuid:N>``; pass ``root`` to make it ``<uuid:1>``;
    - RFC 3339 timestamps (anywhere, also inside strings) -> ``<ts:N>``, numbered by instant in order of
      first appearance; a stamp not written the reference's way (``+00:00``, fraction of 0/3/6/9 digits,
      the fewest that keep every non-zero digit) becomes ``<ts:N noncanonical SHAPE>`` (SHAPE: the text
      with digits as ``d``), so format differences still show after normalisation;
    - epoch-second numbers under ``start_timestamp``/``end_timestamp`` -> ``<epoch:N>``, numbered per
      occurrence (they have millisecond precision, so whether two of them coincide depends on timing;
      numbering by value would make the normalised form run-dependent);
    - ``time_to_first_chunk`` numbers -> ``<seconds>`` (vectors README);
    - known directories (the output directory, the temp and working directories, the home
      directory, the interpreter prefix) inside strings -> ``<outdir>``, ``<tmp>``, ``<cwd>``,
      ``<home>``, ``<prefix>``.

    One instance numbers one document: normalise all its parts with the same instance.
    """

    def __init__(self, root: str | None = None, outdir: str | os.PathLike[str] | None = None) -> None:
        self.uuids: dict[str, int] = {}
        self.stamps: dict[tuple[str, int], int] = {}
        self.epochs = 0
        if root is not None:
            self.uuids[root.lower()] = 1
        dirs: list[tuple[str, str]] = []
        if outdir is not None:
            dirs.append((os.path.realpath(outdir), "<outdir>"))
            dirs.append((os.path.abspath(outdir), "<outdir>"))
        dirs += [
            (os.path.realpath(tempfile.gettempdir()), "<tmp>"),
            (tempfile.gettempdir(), "<tmp>"),
            (os.getcwd(), "<cwd>"),
            (os.path.expanduser("~"), "<home>"),
            (sys.prefix, "<prefix>"),
        ]
        self.dirs = sorted({d: p for d, p in dirs if d and d != "/"}.items(), key=lambda kv: -len(kv[0]))

    def _uuid(self, m: re.Match[str]) -> str:
        u = m.group(0).lower()
        self.uuids.setdefault(u, len(self.uuids) + 1)
        return f"<uuid:{self.uuids[u]}>"

    def _ts(self, m: re.Match[str]) -> str:
        text = m.group(0)
        k = _instant(text)
        self.stamps.setdefault(k, len(self.stamps) + 1)
        if text == _canonical(k):
            return f"<ts:{self.stamps[k]}>"
        shape = re.sub(r"\d", "d", text)
        return f"<ts:{self.stamps[k]} noncanonical {shape}>"

    def _epoch(self) -> str:
        self.epochs += 1
        return f"<epoch:{self.epochs}>"

    def text(self, s: str) -> str:
        """Normalises one string (also a whole JSON document held as text)."""
        s = SECONDS_TEXT_RE.sub(lambda m: f'{m.group(1)}"<seconds>"', s)
        s = EPOCH_TEXT_RE.sub(lambda m: f'{m.group(1)}"{self._epoch()}"', s)
        s = UUID_RE.sub(self._uuid, s)
        s = TS_RE.sub(self._ts, s)
        for d, placeholder in self.dirs:
            s = s.replace(d, placeholder)
        return s

    def value(self, v: Any, key: str | None = None) -> Any:
        """Normalises a JSON value, recursively, in document order."""
        if isinstance(v, dict):
            return {k: self.value(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if key in SECONDS_KEYS:
                return "<seconds>"
            if key in EPOCH_KEYS and math.isfinite(v):
                return self._epoch()
        return v


def normalise(doc: Any, root: str | None = None, outdir: str | os.PathLike[str] | None = None) -> Any:
    """Normalises a whole document (for example ``run()``'s result) with one fresh numbering."""
    return Normaliser(root, outdir).value(doc)


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--normalise"]
    if len(args) != 1:
        print(f"usage: {Path(__file__).name} [--normalise] OUTDIR", file=sys.stderr)
        return 2
    outdir = Path(args[0])
    outdir.mkdir(parents=True, exist_ok=True)
    result = run(outdir)
    if "--normalise" in argv:
        result = normalise(result, outdir=outdir)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
