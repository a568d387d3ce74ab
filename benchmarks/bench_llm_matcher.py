"""LLM matcher throughput against a loopback OpenAI-compatible server with fixed latency.

The server runs in its own process (`python -m rcstudio.testing.openai_stub`), like a remote vLLM,
and answers every matching prompt after `--latency` seconds. Figures: wall time for `--items`
items at `--concurrency` against the ideal `items * latency / concurrency` (target: within 1.25x),
and a second run with a new matcher on the same cache (target: zero requests). Usage:
    python benchmarks/bench_llm_matcher.py [--items 1000] [--latency 0.2] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_requests(n: int):
    from rcstudio.rationale.matchers import MatchRequest

    return [
        MatchRequest(
            f"item-{i}",
            [f"Response {1 + j % 2} handles case {i}.{j} with evidence {j * i}." for j in range(4 + i % 2)],
            [f"Response {'AB'[j % 2]} reason {j} about case {i}." for j in range(5)],
            swapped=bool(i % 2),
        )
        for i in range(n)
    ]


async def raw_baseline(base_url: str, requests, concurrency: int) -> float:
    """Lower bound on this host right now: bare aiohttp POSTs of the same prompts, no SDK, no
    parsing, no cache (what any client would need at least)."""
    import asyncio

    import aiohttp

    from rcstudio.rationale.matchers.llm import render_match_messages

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(req):
            async with sem:
                body = {"model": "raw", "messages": render_match_messages(req)}
                async with session.post(base_url + "/chat/completions", json=body) as resp:
                    await resp.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(r) for r in requests))
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-matcher-"))
    os.environ["RCSTUDIO_HOME"] = str(tmp / "home")

    from rcstudio.clients.llm import ResponseCache
    from rcstudio.rationale.matchers import make_matcher

    server = subprocess.Popen(
        [sys.executable, "-m", "rcstudio.testing.openai_stub", "--latency", str(args.latency), "--responder", "matrix"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        cfg = {"kind": "llm", "endpoint": base_url, "model": "bench-matcher", "concurrency": args.concurrency,
               "timeout_s": 30.0, "max_retries": 2}  # fmt: skip
        requests = make_requests(args.items)
        cache_path = tmp / "cache.sqlite"

        matcher = make_matcher(cfg, cache=ResponseCache(cache_path, commit_every_s=1.0))
        t0, c0 = time.perf_counter(), time.process_time()
        first = matcher.match(requests)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s1 = matcher.stats()
        matcher.close()

        import asyncio

        raw = asyncio.run(raw_baseline(base_url, requests, args.concurrency))

        again = make_matcher(cfg, cache=ResponseCache(cache_path, commit_every_s=1.0))  # a "restart": new client, same cache file
        t0 = time.perf_counter()
        second = again.match(requests)
        wall2 = time.perf_counter() - t0
        s2 = again.stats()
        again.close()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    served = err.strip().splitlines()[-1] if err.strip() else "?"
    ideal = args.items * args.latency / args.concurrency
    assert all((a == b).all() for a, b in zip(first, second))
    print(f"items {args.items}, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"first run:  {wall:7.2f} s wall, {s1['calls']} requests, {s1['retries']} retries, "
          f"{args.items / wall:7.1f} items/s, mean request latency {s1['latency_ms_mean']:.0f} ms, "
          f"client CPU {1000 * cpu / args.items:.2f} ms/item")  # fmt: skip
    print(f"baseline (ideal items*latency/concurrency): {ideal:.2f} s -> ratio {wall / ideal:.2f}x (target <= 1.25x)")
    print(f"baseline (bare aiohttp client, same server, same moment): {raw:.2f} s -> ratio {wall / raw:.2f}x "
          f"(the bare client itself is {raw / ideal:.2f}x the ideal on this host now)")  # fmt: skip
    print(f"second run (new matcher, same cache): {wall2:7.2f} s wall, {s2['calls']} requests, "
          f"cache hit rate {s2['cache_hit_rate']:.2f} -> {wall / max(wall2, 1e-9):.0f}x faster than the first run")  # fmt: skip
    print(f"server: {served}")


if __name__ == "__main__":
    main()
