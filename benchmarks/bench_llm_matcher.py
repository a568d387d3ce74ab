"""`rcstudio score --matcher llm` as a user runs it, against a loopback endpoint with fixed latency.

    python benchmarks/bench_llm_matcher.py [--items 1000] [--latency 0.2] [--concurrency 64]
                                           [--repeat 3] [--out DIR]

The endpoint is `python -m rcstudio.testing.openai_stub` in its own process (like a remote vLLM),
answering every matching prompt after `--latency` seconds. Each round runs, interleaved, each in a
fresh process timed from spawn to exit (wall clock):

* whole command, cold cache: `python -m rcstudio score --data D --model bench --matcher llm ... --json`
  with an empty RCSTUDIO_HOME (every item a request). Target: <= 1.25x the ideal
  items x latency / concurrency (3.125 s for the defaults) - imports, data loading, scoring and the
  bootstrap CIs all count;
* whole command, cached rerun: the same command again on the same cache. Target: < 1 s, 0 requests;
* baseline, bare client: a process that imports only aiohttp and POSTs the same prompts (read from
  a file) with the same concurrency - the least any client could do, start to exit;
* phase figure: the matching phase alone (`matcher.match` in a fresh process, imports excluded),
  which is what the README's older figure measured.

Requests are counted by the stub (`GET /stub/stats`). Results: JSON under `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

JUDGE = "bench"


def make_items(n: int) -> list[dict]:
    """Judged pairs in the data format `rcstudio score --data` reads (4-5 human x 5 model reasons)."""
    items = []
    for i in range(n):
        items.append({
            "id": f"item-{i}",
            "domain": ["general", "stem", "code", "multilingual"][i % 4],
            "context": [{"role": "user", "content": f"Question {i}?"}],
            "response1": f"answer one to {i}",
            "response2": f"answer two to {i}",
            "overall_preference": -2 if i % 3 else 1,
            "human-checklist": [f"Response {1 + j % 2} handles case {i}.{j} with evidence {j * i}." for j in range(4 + i % 2)],
            f"{JUDGE}-checklist": [f"Response {'AB'[j % 2]} reason {j} about case {i}." for j in range(5)],
            f"{JUDGE}-label": "A>B" if i % 2 else "B>A",
        })  # fmt: skip
    return items


def stub_calls(base_url: str) -> int:
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(root + "/stub/stats", timeout=10) as resp:
        return int(json.loads(resp.read())["calls"])


def write_prompts(data: Path, path: Path) -> None:
    """The exact chat messages the matcher sends, one JSON list per line, for the bare client."""
    from rcstudio.rationale.data import load_pairs
    from rcstudio.rationale.matchers import MatchRequest
    from rcstudio.rationale.matchers.llm import render_match_messages

    loaded = load_pairs(data)
    with path.open("w") as fh:
        for it in loaded.items:
            out = it.outputs[JUDGE]
            req = MatchRequest(it.id, list(it.human_checklist), list(out.checklist), bool(it.extra.get("swapped")))
            fh.write(json.dumps(render_match_messages(req)) + "\n")


RAW_CLIENT = r"""
import asyncio, json, sys
import aiohttp

async def main(path, url, concurrency):
    prompts = [json.loads(line) for line in open(path)]
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(messages):
            async with sem:
                body = {"model": "raw", "messages": messages, "temperature": 0.0}
                async with session.post(url + "/chat/completions", json=body) as resp:
                    data = await resp.json()
                    return data["choices"][0]["message"]["content"]
        replies = await asyncio.gather(*(one(m) for m in prompts))
    print(len(replies))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def phase_worker(data: Path, base_url: str, concurrency: int) -> None:
    """The matching phase alone: imports and data loading done before the clock starts."""
    from rcstudio.rationale.data import load_pairs
    from rcstudio.clients.llm import ResponseCache
    from rcstudio.rationale.matchers import MatchRequest, make_matcher

    loaded = load_pairs(data)
    requests = [
        MatchRequest(it.id, list(it.human_checklist), list(it.outputs[JUDGE].checklist), bool(it.extra.get("swapped")))
        for it in loaded.items
    ]
    cfg = {"kind": "llm", "endpoint": base_url, "model": "phase", "concurrency": concurrency, "timeout_s": 30.0}
    matcher = make_matcher(cfg, cache=ResponseCache(Path(tempfile.mkdtemp()) / "c.sqlite", commit_every_s=1.0))
    t0 = time.perf_counter()
    matcher.match(requests)
    took = time.perf_counter() - t0
    matcher.close()
    print(json.dumps({"seconds": took}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--python", default=sys.executable, help="interpreter for the bare-client baseline")
    ap.add_argument("--phase-worker", nargs=3, metavar=("DATA", "URL", "CONCURRENCY"), help=argparse.SUPPRESS)
    _bench.add_common_args(ap)
    args = ap.parse_args()
    if args.phase_worker:
        phase_worker(Path(args.phase_worker[0]), args.phase_worker[1], int(args.phase_worker[2]))
        return

    _bench.probe([args.python, "-c", "import aiohttp"], "the bare aiohttp client baseline")
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-matcher-"))
    data = tmp / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_items(args.items)))
    prompts = tmp / "prompts.jsonl"
    write_prompts(data, prompts)
    raw_client = tmp / "raw_client.py"
    raw_client.write_text(RAW_CLIENT)

    server = subprocess.Popen(
        [sys.executable, "-m", "rcstudio.testing.openai_stub", "--latency", str(args.latency), "--responder", "matrix"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    rounds = {"n": 0}
    requests_seen: dict[str, list[int]] = {"cold": [], "cached": []}
    try:
        base_url = server.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise SystemExit(f"the stub did not start: {server.stderr.read()[-2000:]}")
        cmd = [sys.executable, "-m", "rcstudio", "score", "--data", str(data), "--model", JUDGE, "--matcher", "llm",
               "--endpoint", base_url, "--matcher-model", "bench", "--concurrency", str(args.concurrency),
               "--timeout-s", "30", "--json"]  # fmt: skip

        def env_for(home: Path) -> dict:
            return {**os.environ, "RCSTUDIO_HOME": str(home)}

        def cold() -> float:
            rounds["n"] += 1
            home = tmp / f"home-{rounds['n']}"
            before = stub_calls(base_url)
            wall, out = _bench.run_process(cmd, env=env_for(home), what="rcstudio score")
            requests_seen["cold"].append(stub_calls(base_url) - before)
            assert json.loads(out)["valid"] == args.items, out[:500]
            return wall

        def cached() -> float:
            home = tmp / f"home-{rounds['n']}"
            before = stub_calls(base_url)
            wall, _ = _bench.run_process(cmd, env=env_for(home), what="rcstudio score (rerun)")
            requests_seen["cached"].append(stub_calls(base_url) - before)
            return wall

        def bare() -> float:
            wall, out = _bench.run_process([args.python, str(raw_client), str(prompts), base_url, str(args.concurrency)],
                                           what="bare aiohttp client")  # fmt: skip
            assert out.strip() == str(args.items)
            return wall

        def phase() -> float:
            _, out = _bench.run_process([sys.executable, __file__, "--phase-worker", str(data), base_url,
                                         str(args.concurrency)], env=env_for(tmp / "home-phase"), what="phase worker")  # fmt: skip
            return float(json.loads(out.strip().splitlines()[-1])["seconds"])

        samples, loads = _bench.interleave({"whole": cold, "cached": cached, "bare": bare, "phase": phase}, args.repeat)
    finally:
        server.terminate()
        server.communicate(timeout=30)

    ideal = args.items * args.latency / args.concurrency
    whole, bare_s = samples["whole"], samples["bare"]
    print(f"items {args.items}, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}; "
          f"{args.repeat} interleaved rounds; {loads[0]} at the start, {_bench.load()} at the end")  # fmt: skip
    print(f"ideal items x latency / concurrency: {ideal:.3f} s")
    print(f"WHOLE COMMAND `rcstudio score --matcher llm`, cold cache (fresh process, wall): {_bench.fmt(whole)}"
          f" -> {_bench.ratio(whole, ideal):.2f}x the ideal (target <= 1.25x: "
          f"{'met' if _bench.ratio(whole, ideal) <= 1.25 else 'MISSED'}); requests per run {requests_seen['cold']}; "
          f"{_bench.cpu_line('rcstudio score')}")  # fmt: skip
    print(f"WHOLE COMMAND, cached rerun: {_bench.fmt(samples['cached'])}, requests per run {requests_seen['cached']}, "
          f"{_bench.cpu_line('rcstudio score (rerun)')} "
          f"(target < 1 s, 0 requests: "
          f"{'met' if max(samples['cached']) < 1 and not any(requests_seen['cached']) else 'MISSED'})")  # fmt: skip
    print(f"baseline, bare aiohttp client as a whole process: {_bench.fmt(bare_s)} ({_bench.ratio(bare_s, ideal):.2f}x the ideal)"
          f" -> rcstudio is {_bench.ratio(whole, bare_s):.2f}x the bare client; {_bench.cpu_line('bare aiohttp client')}")  # fmt: skip
    print(f"PHASE figure (matcher.match alone, imports excluded): {_bench.fmt(samples['phase'])} "
          f"-> {_bench.ratio(samples['phase'], ideal):.2f}x the ideal")  # fmt: skip
    _bench.write_result(args.out, "bench_llm_matcher", {
        "args": {k: str(v) for k, v in vars(args).items()}, "ideal_s": ideal, "loads": loads,
        "samples": samples, "requests": requests_seen,
        "ratios": {"whole_vs_ideal": _bench.ratio(whole, ideal), "whole_vs_bare": _bench.ratio(whole, bare_s),
                   "phase_vs_ideal": _bench.ratio(samples["phase"], ideal)},
    })  # fmt: skip


if __name__ == "__main__":
    main()
