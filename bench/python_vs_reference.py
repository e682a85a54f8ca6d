# SPDX-License-Identifier: Apache-2.0
"""Our ``nemo_relay`` (ctypes over libnemorelay) against the reference ``nemo-relay`` 0.10.4 from PyPI.

Runs the same workloads on both packages, each in its own subprocess, and prints one table with
both figures, the ratio and the issue's target for each row:

    python3 bench/python_vs_reference.py [--venv /tmp/nemo-relay-ref-venv] [--quick | --smoke]

Our library comes from NEMO_RELAY_LIB_PATH when it is set, else from a release build under
``.build*/release`` (built with ``swift build -c release --product nemorelay`` when none exists).
The reference lives in a scratch virtual environment (default ``/tmp/nemo-relay-ref-venv``,
created on first use with ``pip install nemo-relay==0.10.4``); it is never a project dependency.
``--reference-python PATH`` uses an interpreter that already has the reference installed.

Times are the best of several repetitions (the machine is shared); each repetition runs long
enough (about ``--rep-seconds``) to swamp timer noise. ``--smoke`` runs every workload a few hundred
times once (a CI check that both packages still run it, in seconds; its figures mean little).

The exporter rows time ``scope.event`` with an ``AtofExporter`` file sink or an ``AtifExporter``
registered (their queues are drained between repetitions, outside the timed region), in wall time
and in the emitting thread's CPU time, and ``AtifExporter.export()`` after an agent loop of
``--agent-calls`` calls (LLM calls each followed by the tool call it asked for).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import glob
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "nemo-relay==0.10.4"
DEFAULT_VENV = "/tmp/nemo-relay-ref-venv"


# ---- workloads (run inside a worker process, against whichever nemo_relay it imports) -----------


def chat_request(n_messages: int = 20) -> dict[str, Any]:
    """A 20-message OpenAI Chat request of about 4 KB (the issue's codec workload)."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful assistant. " * 4}]
    for i in range(n_messages - 1):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append({"role": role, "content": f"Turn {i}: " + "some words about the weather and travel plans " * 3})
    return {"model": "gpt-4o-mini", "messages": msgs, "temperature": 0.2, "max_tokens": 256}


def _turn(i: int) -> str:
    return f"Turn {i}: " + "some words about the weather and travel plans " * 3


def gemini_request(n_turns: int = 20) -> dict[str, Any]:
    """The chat workload as a Gemini generateContent body (system instruction plus 19 contents)."""
    contents = [{"role": "user" if i % 2 == 0 else "model", "parts": [{"text": _turn(i)}]} for i in range(n_turns - 1)]
    return {"systemInstruction": {"parts": [{"text": "You are a careful assistant. " * 4}]}, "contents": contents,
            "generationConfig": {"temperature": 0.2, "maxOutputTokens": 256}}


def oci_request(n_turns: int = 20) -> dict[str, Any]:
    """The chat workload as an OCI GENERIC ChatDetails body."""
    msgs = [{"role": "SYSTEM", "content": [{"type": "TEXT", "text": "You are a careful assistant. " * 4}]}]
    for i in range(n_turns - 1):
        msgs.append({"role": "USER" if i % 2 == 0 else "ASSISTANT", "content": [{"type": "TEXT", "text": _turn(i)}]})
    return {"compartmentId": "ocid1.compartment.oc1..bench",
            "servingMode": {"servingType": "ON_DEMAND", "modelId": "meta.llama-3.3-70b-instruct"},
            "chatRequest": {"apiFormat": "GENERIC", "messages": msgs, "temperature": 0.2, "maxTokens": 256}}


def bedrock_request(n_turns: int = 20) -> dict[str, Any]:
    """The chat workload as a Bedrock Converse body (system plus 20 messages)."""
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": [{"text": _turn(i)}]} for i in range(n_turns)]
    return {"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0", "system": [{"text": "You are careful."}],
            "messages": msgs, "inferenceConfig": {"temperature": 0.2, "maxTokens": 256}}


class Timer:
    def __init__(self, rep_seconds: float, reps: int, iterations: int = 0) -> None:
        self.rep_seconds = rep_seconds
        self.reps = reps
        #: A fixed operation count per timed run (smoke runs); 0 calibrates to ``rep_seconds``.
        self.iterations = iterations
        #: Best thread CPU microseconds per call of the last ``sync`` (the emitting thread's own work).
        self.last_cpu_us = 0.0

    def _count(self, once: Callable[[int], float], per_op: int = 1) -> int:
        if self.iterations:
            return max(1, self.iterations // per_op)
        n = 50
        while True:
            t = once(n)
            if t >= self.rep_seconds / 4 or n >= 2_000_000:
                return max(1, int(n * self.rep_seconds / max(t, 1e-9)))
            n *= 4

    def sync(self, op: Callable[[], Any], between: Callable[[], Any] | None = None) -> float:
        """Best microseconds per call of ``op()``; ``between`` runs untimed after every timed run."""

        cpu = [float("inf")]

        def once(n: int) -> float:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for _ in range(n):
                op()
            t = time.perf_counter() - t0
            cpu[0] = min(cpu[0], (time.thread_time() - c0) / n)
            if between is not None:
                between()
            return t

        n = self._count(once)
        cpu[0] = float("inf")  # calibration runs are shorter: keep only the timed runs' CPU
        best = min(once(n) for _ in range(self.reps)) / n * 1e6
        self.last_cpu_us = cpu[0] * 1e6
        return best

    def aio(self, op: Callable[[], Any], after: Callable[[], Any] | None = None, per_op: int = 1) -> float:
        """Best microseconds per ``await op()`` (``after`` is awaited inside the timed region);
        ``per_op`` is how many calls one ``op`` makes (a fixed ``iterations`` count is divided by it)."""

        async def once_async(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                await op()
            if after is not None:
                await after()
            return time.perf_counter() - t0

        def once(n: int) -> float:
            return asyncio.run(once_async(n))

        n = self._count(once, per_op)
        return min(once(n) for _ in range(self.reps)) / n * 1e6


def run_workloads(rep_seconds: float, reps: int, iterations: int, agent_calls: int) -> dict[str, float]:
    import nemo_relay
    from nemo_relay import LLMRequest, LLMRequestInterceptOutcome, ScopeType, ToolExecutionResult
    from nemo_relay.codecs import OpenAIChatCodec

    timer = Timer(rep_seconds, reps, iterations)
    out: dict[str, float] = {}
    small = LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})

    async def provider(req: Any) -> dict[str, Any]:
        return {"choices": [{"message": {"role": "assistant", "content": "hello"}}], "model": "gpt-4o-mini"}

    def push_pop() -> None:
        nemo_relay.scope.pop(nemo_relay.scope.push("bench", ScopeType.Function))

    out["push_pop"] = timer.sync(push_pop)
    out["mark"] = timer.sync(lambda: nemo_relay.scope.event("bench-mark"))
    out["mark_cpu"] = timer.last_cpu_us
    out["llm_plain"] = timer.aio(lambda: nemo_relay.llm.execute("bench", small, provider))
    out["tool"] = timer.aio(
        lambda: nemo_relay.tools.execute("bench-tool", {"q": "weather"}, lambda args: ToolExecutionResult(args))
    )

    nemo_relay.subscribers.register("bench-sub", lambda ev: None)
    try:
        out["llm_subscriber"] = timer.aio(
            lambda: nemo_relay.llm.execute("bench", small, provider), after=nemo_relay.subscribers.flush_async
        )
    finally:
        nemo_relay.subscribers.deregister("bench-sub")
        nemo_relay.subscribers.flush()

    def intercept(name: Any, request: Any, annotated: Any) -> Any:
        return LLMRequestInterceptOutcome(request, annotated)

    codec = OpenAIChatCodec()
    nemo_relay.intercepts.register_llm_request("bench-intercept", 1, False, intercept)
    try:
        out["llm_codec_intercept"] = timer.aio(lambda: nemo_relay.llm.execute("bench", small, provider, codec=codec))
    finally:
        nemo_relay.intercepts.deregister_llm_request("bench-intercept")

    big = LLMRequest({}, chat_request())
    annotated = codec.decode(big)
    assert len(annotated.messages) == 20
    out["codec_decode"] = timer.sync(lambda: codec.decode(big))
    out["codec_encode"] = timer.sync(lambda: codec.encode(annotated, big))
    import nemo_relay.codecs as codec_module

    for prefix, class_name, body in (
        ("gemini", "GeminiGenerateContentCodec", gemini_request()),
        ("oci", "OCIGenAIChatCodec", oci_request()),
        ("bedrock", "BedrockConverseCodec", bedrock_request()),
    ):
        cls = getattr(codec_module, class_name, None)
        if cls is None:  # the reference has no Bedrock codec
            continue
        provider_codec, request = cls(), LLMRequest({}, body)
        decoded = provider_codec.decode(request)
        assert len(decoded.messages) == 20, (class_name, len(decoded.messages))
        out[f"{prefix}_decode"] = timer.sync(lambda: provider_codec.decode(request))
        out[f"{prefix}_encode"] = timer.sync(lambda: provider_codec.encode(decoded, request))

    async def yielding(req: Any) -> dict[str, Any]:
        await asyncio.sleep(0)  # every call really suspends, so the 64 interleave
        return {"ok": True}

    async def batch() -> None:
        await asyncio.gather(*(nemo_relay.llm.execute("bench", small, yielding) for _ in range(64)))

    out["gather_ops"] = 64 / timer.aio(batch, per_op=64) * 1e6
    out.update(run_exporter_workloads(timer, reps, agent_calls))
    return out


def run_exporter_workloads(timer: Timer, reps: int, agent_calls: int) -> dict[str, float]:
    """``scope.event`` with an ATOF file exporter or an ATIF exporter registered (wall and thread CPU
    time), and the time of ``AtifExporter.export()`` after an agent loop of ``agent_calls`` calls
    (LLM calls, each followed by the tool call it asked for)."""
    import tempfile

    import nemo_relay
    from nemo_relay import (
        AtifExporter,
        AtofExporter,
        AtofExporterConfig,
        AtofExporterMode,
        LLMRequest,
        ScopeType,
        ToolExecutionResult,
    )

    out: dict[str, float] = {}

    def mark() -> None:
        nemo_relay.scope.event("bench-mark")

    with tempfile.TemporaryDirectory(prefix="nemo-relay-bench-") as tmp:
        config = AtofExporterConfig()
        config.output_directory = tmp
        config.filename = "bench.jsonl"
        config.mode = AtofExporterMode.Overwrite
        atof = AtofExporter(config)
        path = atof.path
        assert path is not None
        atof.register("bench-atof")

        def drain_file() -> None:
            # Untimed: wait for the writer, then keep the file small (every write appends).
            atof.force_flush()
            os.truncate(path, 0)

        try:
            out["mark_atof"] = timer.sync(mark, between=drain_file)
            out["mark_atof_cpu"] = timer.last_cpu_us
            mark()
            atof.force_flush()
            # A sanity check, not a timing: the exporter really wrote the event.
            assert os.path.getsize(path) > 0, "the ATOF exporter wrote nothing"
        finally:
            atof.deregister("bench-atof")
            atof.shutdown()

    atif = AtifExporter("bench-session", "bench-agent", "1.0", model_name="gpt-4o-mini")
    atif.register("bench-atif")

    def drain_atif() -> None:
        nemo_relay.subscribers.flush()
        atif.clear()

    try:
        out["mark_atif"] = timer.sync(mark, between=drain_atif)
        out["mark_atif_cpu"] = timer.last_cpu_us
        drain_atif()

        request = LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather?"}]})
        counter = [0]

        async def provider(req: Any) -> dict[str, Any]:
            i = counter[0]
            call = {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            return {
                "model": "gpt-4o-mini",
                "choices": [{"message": {"role": "assistant", "content": f"step {i}", "tool_calls": [call]}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            }

        async def agent_loop() -> None:
            handle = nemo_relay.scope.push("bench-agent", ScopeType.Agent)
            try:
                for i in range(max(1, agent_calls // 2)):
                    counter[0] = i
                    await nemo_relay.llm.execute("bench-llm", request, provider)
                    await nemo_relay.tools.execute(
                        "get_weather",
                        {"city": "Paris"},
                        lambda args: ToolExecutionResult({"temp_c": 21}),
                        tool_call_id=f"call_{i}",
                    )
            finally:
                nemo_relay.scope.pop(handle)

        asyncio.run(agent_loop())
        nemo_relay.subscribers.flush()
        trajectory = atif.export()
        out["atif_steps"] = float(len(trajectory.get("steps", [])))

        def best_ms(op: Callable[[], Any]) -> float:
            times = []
            for _ in range(max(3, reps * 2)):
                t0 = time.perf_counter()
                op()
                times.append(time.perf_counter() - t0)
            return min(times) * 1e3

        out["atif_export"] = best_ms(atif.export)
        out["atif_export_json"] = best_ms(atif.export_json)
    finally:
        atif.deregister("bench-atif")
    return out


def run_rss(calls: int) -> dict[str, float]:
    """Peak RSS after ``calls`` managed calls while a slow subscriber falls behind."""
    import nemo_relay
    from nemo_relay import LLMRequest

    request = LLMRequest({}, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})

    async def provider(req: Any) -> dict[str, str]:
        return {"text": "hello"}

    async def main() -> None:
        for _ in range(calls):
            await nemo_relay.llm.execute("rss", request, provider)

    delivered = [0]

    def slow(ev: Any) -> None:
        delivered[0] += 1
        time.sleep(0.001)

    # Warm up so the baseline holds the interpreter, the library and the runtime's threads.
    asyncio.run(_warm(nemo_relay, request, provider))
    gc.collect()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    nemo_relay.subscribers.register("slow", slow)
    t0 = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dropped = -1.0
    rt = getattr(nemo_relay, "_runtime", None)
    if rt is not None and hasattr(rt, "dropped_events"):
        dropped = float(rt.dropped_events())
    return {
        "rss_base_mb": base,
        "rss_peak_mb": peak,
        "rss_delivered": float(delivered[0]),
        "rss_dropped": dropped,
        "rss_seconds": elapsed,
    }


async def _warm(nemo_relay: Any, request: Any, provider: Any) -> None:
    for _ in range(2000):
        await nemo_relay.llm.execute("rss-warm", request, provider)


def worker(args: argparse.Namespace) -> None:
    import nemo_relay

    which = "ours" if hasattr(nemo_relay, "LIBRARY_VERSION") else "reference"
    if args.worker == "rss":
        result: dict[str, Any] = run_rss(args.rss_calls)
    else:
        result = run_workloads(args.rep_seconds, args.reps, args.iterations, args.agent_calls)
    result["which"] = which
    print(json.dumps(result), flush=True)
    # Skip the atexit flush: the slow subscriber's backlog would take minutes to drain.
    os._exit(0)


# ---- the driver ---------------------------------------------------------------------------------


def our_library() -> str:
    env = os.environ.get("NEMO_RELAY_LIB_PATH")
    if env:
        return env
    found = sorted(glob.glob(str(REPO / ".build*" / "release" / "libnemorelay.so")), key=os.path.getmtime)
    if found:
        return found[-1]
    print("bench: building the release library (swift build -c release --product nemorelay)", file=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release", "--product", "nemorelay"], cwd=REPO, check=True)
    bin_path = subprocess.run(
        ["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    return str(Path(bin_path) / "libnemorelay.so")


def reference_python(args: argparse.Namespace) -> str:
    if args.reference_python:
        return args.reference_python
    venv = Path(args.venv)
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"bench: creating the scratch venv {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import importlib.metadata as m; print(m.version('nemo-relay'))"
    have = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    if have.returncode != 0 or have.stdout.strip() != REFERENCE.split("==")[1]:
        print(f"bench: installing {REFERENCE} into {venv}", file=sys.stderr)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", REFERENCE], check=True)
    return str(py)


def run_worker(python: str, env: dict[str, str], kind: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", kind]
    cmd += ["--rep-seconds", str(args.rep_seconds), "--reps", str(args.reps), "--rss-calls", str(args.rss_calls)]
    cmd += ["--iterations", str(args.iterations), "--agent-calls", str(args.agent_calls)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: the {kind} worker failed under {python}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


ROWS = [
    # key, label, unit, kind, target
    ("push_pop", "scope push+pop", "us", "time", 2.0),
    ("mark", "mark (scope.event)", "us", "time", 2.0),
    ("llm_plain", "llm.execute, no middleware", "us", "time", 20.0),
    ("llm_subscriber", "llm.execute, one subscriber", "us", "time", 20.0),
    ("llm_codec_intercept", "llm.execute, OpenAIChat codec + intercept", "us", "time", 20.0),
    ("tool", "tools.execute", "us", "time", 20.0),
    ("codec_decode", "OpenAIChatCodec.decode, 20 messages", "us", "time", 1.0),
    ("codec_encode", "OpenAIChatCodec.encode, 20 messages", "us", "time", 1.0),
    ("gemini_decode", "GeminiGenerateContentCodec.decode, 20 turns", "us", "time", 1.0),
    ("gemini_encode", "GeminiGenerateContentCodec.encode, 20 turns", "us", "time", 1.0),
    ("oci_decode", "OCIGenAIChatCodec.decode, 20 messages", "us", "time", 1.0),
    ("oci_encode", "OCIGenAIChatCodec.encode, 20 messages", "us", "time", 1.0),
    ("bedrock_decode", "BedrockConverseCodec.decode, 20 messages", "us", "time", None),
    ("bedrock_encode", "BedrockConverseCodec.encode, 20 messages", "us", "time", None),
    ("gather_ops", "64 x llm.execute under gather", "ops/s", "rate", 20.0),
    ("mark_atof", "mark, AtofExporter file sink registered", "us", "time", None),
    ("mark_atif", "mark, AtifExporter registered", "us", "time", None),
    ("mark_cpu", "mark, no subscriber (thread CPU)", "us", "time", None),
    ("mark_atof_cpu", "mark, AtofExporter registered (thread CPU)", "us", "time", None),
    ("mark_atif_cpu", "mark, AtifExporter registered (thread CPU)", "us", "time", None),
    ("atif_export", "AtifExporter.export(), {calls:,}-call run", "ms", "time", None),
    ("atif_export_json", "AtifExporter.export_json(), {calls:,}-call run", "ms", "time", None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default=DEFAULT_VENV, help="scratch venv for the reference (created when missing)")
    ap.add_argument("--reference-python", help="an interpreter that already has nemo-relay 0.10.4")
    ap.add_argument("--rep-seconds", type=float, default=0.3, help="length of one timed repetition")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per row (the best is kept)")
    ap.add_argument("--rss-calls", type=int, default=200_000, help="managed calls of the memory row")
    ap.add_argument("--quick", action="store_true", help="shorter runs (0.1 s x 3, 20,000 memory calls)")
    ap.add_argument("--iterations", type=int, default=0, help="a fixed operation count per timed run (no calibration)")
    ap.add_argument("--agent-calls", type=int, default=1000, help="calls of the run AtifExporter.export() exports")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a CI smoke run: 300 iterations, 1 repetition, 200 agent calls, no memory row",
    )
    ap.add_argument("--skip-rss", action="store_true", help="leave out the memory row")
    ap.add_argument("--ours-only", action="store_true", help="run only our binding (no reference venv needed)")
    ap.add_argument("--worker", choices=["timings", "rss"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rep_seconds, args.reps, args.rss_calls = 0.1, 3, 20_000
    if args.smoke:
        args.iterations, args.reps, args.agent_calls, args.skip_rss = 300, 1, 200, True
    if args.worker:
        worker(args)
        return

    lib = our_library()
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEMO_RELAY_LIB_PATH")}
    ours_env = {**base_env, "PYTHONPATH": str(REPO / "bindings" / "python"), "NEMO_RELAY_LIB_PATH": lib}
    if args.ours_only:
        ours = run_worker(sys.executable, ours_env, "timings", args)
        assert ours["which"] == "ours", ours["which"]
        print(f"ours: {lib}")
        for key, label, unit, kind, _target in ROWS:
            print(f"{label.format(calls=args.agent_calls):44} {unit:>6} {ours[key]:12.2f}")
        return
    ref_py = reference_python(args)

    print(f"ours: {lib}\nreference: {REFERENCE} under {ref_py}", flush=True)
    ours = run_worker(sys.executable, ours_env, "timings", args)
    ref = run_worker(ref_py, base_env, "timings", args)
    assert ours["which"] == "ours" and ref["which"] == "reference", (ours["which"], ref["which"])

    print()
    print(f"{'workload':44} {'unit':>6} {'ours':>12} {'reference':>12} {'ratio':>8} {'target':>8}  met")
    missed = []
    for key, label, unit, kind, target in ROWS:
        label = label.format(calls=args.agent_calls)
        a, b = ours[key], ref.get(key)
        if b is None:  # not in the reference (Bedrock)
            print(f"{label:44} {unit:>6} {a:12.2f} {'-':>12} {'-':>8} {'-':>8}  -")
            continue
        ratio = b / a if kind == "time" else a / b
        ok = target is None or ratio >= target
        if not ok:
            missed.append(label)
        fmt = "{:12.2f}" if kind == "time" else "{:12.0f}"
        tgt = f">={target:g}x" if target is not None else "-"
        met = "-" if target is None else "yes" if ok else "NO"
        print(f"{label:44} {unit:>6} {fmt.format(a)} {fmt.format(b)} {ratio:7.1f}x {tgt:>8}  {met}")
    steps = f"ours {ours['atif_steps']:.0f}, reference {ref['atif_steps']:.0f}"
    print(f"ATIF steps exported after the {args.agent_calls:,}-call run: {steps}")

    if not args.skip_rss:
        o = run_worker(sys.executable, ours_env, "rss", args)
        r = run_worker(ref_py, base_env, "rss", args)
        print()
        print(f"peak RSS after {args.rss_calls:,} llm.execute with a slow (1 ms/event) subscriber:")
        for name, m in (("ours", o), ("reference", r)):
            dropped = f"{m['rss_dropped']:,.0f} dropped" if m["rss_dropped"] >= 0 else "no drop counter"
            print(
                f"  {name:10} {m['rss_peak_mb']:8.1f} MB peak ({m['rss_base_mb']:.1f} MB before, "
                f"+{m['rss_peak_mb'] - m['rss_base_mb']:.1f} MB), {m['rss_delivered']:,.0f} delivered, "
                f"{dropped}, {m['rss_seconds']:.1f} s"
            )
    print()
    print("all targets met" if not missed else "targets missed: " + ", ".join(missed))


if __name__ == "__main__":
    main()
