"""Judge-runner throughput: all 350 JudgeBench pairs x 2 orders against a 200 ms loopback endpoint.

Figures (same run, same server): wall time of `JudgeRunner` + `EndpointBackend` at concurrency 64
(no reply cache, so every call goes over HTTP), its ratio to the ideal 700 x 0.2 s / 64 (target:
within 1.25x), and the ratio to a bare baseline: `openai.AsyncOpenAI` behind an `asyncio.Semaphore`
with no parsing, retries bookkeeping, resume file or progress bar. Usage:
    python benchmarks/bench_judge_runner.py [--latency 0.2] [--concurrency 64] [--data PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import tempfile
import time
from pathlib import Path


def _default_data() -> Path:
    from rcstudio import paths

    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data/judgebench_gpt-4o-2024-05-13.jsonl (or pass --data)")
    return shared / "data" / "judgebench_gpt-4o-2024-05-13.jsonl"


async def _baseline(base_url: str, tasks: list, concurrency: int) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=60)
    sem = asyncio.Semaphore(concurrency)

    async def one(messages: list) -> str:
        async with sem:
            r = await client.chat.completions.create(model="stub-model", messages=messages, temperature=0.0,
                                                     max_tokens=4096)
            return r.choices[0].message.content or ""

    start = time.perf_counter()
    await asyncio.gather(*(one(t.messages) for t in tasks))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def _serve(latency: float, queue, stop) -> None:
    """The endpoint in its own process, so its CPU work does not share the client's GIL."""
    from rcstudio.testing.openai_stub import OpenAIStub

    with OpenAIStub("Looks right.\n\\boxed{A>B}", latency_s=latency) as stub:
        queue.put(stub.base_url)
        stop.wait()
        queue.put((stub.calls, stub.max_in_flight))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-judge-runner-"))
    os.environ["RCSTUDIO_HOME"] = str(tmp / "home")

    from rcstudio.evals import judgebench as jb
    from rcstudio.evals import tasks as T
    from rcstudio.evals.prompts import PAIRWISE_VERSION
    from rcstudio.evals.runner import EndpointBackend, JudgeRunner, summarize
    from rcstudio.clients.llm import LLMConfig

    import openai  # noqa: F401  - one-time import cost, outside both timings
    from rcstudio.rationale import parse  # noqa: F401

    pairs = jb.load_pairs(args.data or _default_data())
    tasks = T.judgebench_tasks(pairs, PAIRWISE_VERSION)
    ideal = math.ceil(len(tasks) / args.concurrency) * args.latency  # whole waves of `concurrency` calls
    ideal_fluid = len(tasks) * args.latency / args.concurrency

    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.latency, queue, stop), daemon=True)
    server.start()
    try:
        base_url = queue.get(timeout=60)
        cfg = LLMConfig(base_url=base_url, model="stub-model", concurrency=args.concurrency, timeout_s=60)
        start, cpu0 = time.perf_counter(), time.process_time()
        outcomes = JudgeRunner(EndpointBackend(cfg, cache=None), tmp / "judgments.jsonl", progress=False).run(tasks)
        runner_s, runner_cpu = time.perf_counter() - start, time.process_time() - cpu0
        assert summarize(outcomes)["parse_failures"] == 0
        cpu0 = time.process_time()
        baseline_s = asyncio.run(_baseline(base_url, tasks, args.concurrency))
        baseline_cpu = time.process_time() - cpu0
        stop.set()
        calls, peak = queue.get(timeout=60)
        assert calls == 2 * len(tasks)
    finally:
        stop.set()
        server.join(30)

    print(f"judge runner: {len(tasks)} calls ({len(pairs)} pairs x 2 orders), {args.latency * 1000:.0f} ms latency, "
          f"concurrency {args.concurrency} (peak in flight {peak})")
    print(f"  runner            {runner_s:6.2f} s   {len(tasks) / runner_s:7.1f} calls/s   client CPU {runner_cpu:.2f} s")
    print(f"  ideal 700*0.2/64  {ideal_fluid:6.2f} s   ratio {runner_s / ideal_fluid:.2f}x  (target <= 1.25x)")
    print(f"  ideal in waves    {ideal:6.2f} s   ratio {runner_s / ideal:.2f}x")
    print(f"  baseline (bare AsyncOpenAI + semaphore) {baseline_s:6.2f} s   client CPU {baseline_cpu:.2f} s   "
          f"runner/baseline {runner_s / baseline_s:.2f}x")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time exceeds the ideal when the "
          f"client's CPU time does)")


if __name__ == "__main__":
    main()
