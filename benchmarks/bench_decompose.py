"""Decomposition throughput against a loopback OpenAI-compatible server with fixed latency.

Figures: pairs/s at `--concurrency` vs the baseline of one request at a time (same run, same
server), and the cost of a rerun (resume: zero requests). Usage:
    python benchmarks/bench_decompose.py [--pairs 200] [--latency 0.05] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def make_data(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            reasoning = " ".join(f"Response {1 + j % 2} handles case {i}-{j} with evidence {j}." for j in range(3 + i % 4))
            fh.write(json.dumps({
                "domain": "general", "context": [{"role": "user", "content": f"question {i}"}],
                "response1": f"answer one {i}", "response2": f"answer two {i}", "overall_preference": (i % 7) - 3,
                "individual_preference": [{"score": -1, "reasoning": reasoning}],
            }) + "\n")


def responder(messages, model):
    user = messages[1]["content"]
    text = user.split("## Annotators' reasoning\n", 1)[1].split("\n", 1)[1].split("\n\nReturn", 1)[0]
    items = [s.strip() for s in text.split(".") if s.strip()]
    from rcstudio.rationale.decompose.prompt import example_reply

    return example_reply(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-decompose-"))
    os.environ["RCSTUDIO_HOME"] = str(tmp / "home")

    from rcstudio.rationale.decompose import decompose_file
    from rcstudio.clients.llm import LLMConfig
    from rcstudio.testing.openai_stub import OpenAIStub

    data = tmp / "pairs.jsonl"
    make_data(data, args.pairs)
    results = {}
    with OpenAIStub(responder, latency_s=args.latency) as stub:
        for label, conc, model in (("baseline sequential (concurrency 1)", 1, "m-seq"), (f"concurrency {args.concurrency}", args.concurrency, "m-par")):
            cfg = LLMConfig(base_url=stub.base_url, model=model, concurrency=conc, max_retries=0)
            t0 = time.perf_counter()
            s = decompose_file(data, tmp / f"{model}.jsonl", cfg, progress=False)
            dt = time.perf_counter() - t0
            results[label] = (dt, s)
            print(f"{label:40s} {args.pairs / dt:8.1f} pairs/s  ({dt:.2f}s, kept {s.kept}, requests {s.llm_calls})")
        calls = stub.calls
        t0 = time.perf_counter()
        s = decompose_file(data, tmp / "m-par.jsonl", LLMConfig(base_url=stub.base_url, model="m-par", concurrency=args.concurrency), progress=False)
        rerun = time.perf_counter() - t0
        print(f"{'rerun (resume, nothing to do)':40s} {args.pairs / rerun:8.1f} pairs/s  ({rerun:.2f}s, requests {stub.calls - calls})")
        t0 = time.perf_counter()
        s = decompose_file(data, tmp / "fresh.jsonl", LLMConfig(base_url=stub.base_url, model="m-par", concurrency=args.concurrency), progress=False)
        cached = time.perf_counter() - t0
        print(f"{'new output, replies from cache':40s} {args.pairs / cached:8.1f} pairs/s  ({cached:.2f}s, cache hits {s.cache_hits})")
    base, par = results["baseline sequential (concurrency 1)"][0], results[f"concurrency {args.concurrency}"][0]
    print(f"speedup concurrency {args.concurrency} vs sequential baseline: {base / par:.1f}x "
          f"(ideal {min(args.concurrency, args.pairs)}x at {args.latency * 1000:.0f} ms latency)")
    print(f"speedup cached rerun vs concurrent first run: {par / cached:.1f}x")


if __name__ == "__main__":
    main()
