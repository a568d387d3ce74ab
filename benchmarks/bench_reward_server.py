"""Reward-server throughput for one RL step of the paper's shape (256 prompts x 8 rollouts).

    python benchmarks/bench_reward_server.py                  # 256 x 8 = 2,048 sequences
    python benchmarks/bench_reward_server.py --prompts 64     # smaller, for a busy machine

`rcstudio serve-reward` runs as its own process (as in the hetjob); 8 client threads play the
actor's data-parallel ranks, each sending rollout micro-batches of 8 sequences with the real
Triton HTTP client (binary tensors), so 64 sequences are in flight - the matcher's concurrency.
Three matchers:

* matrix (precomputed scores, ~free): the server's own overhead per sequence, p50/p99
  (detokenize, prompt lookup, parse, reward, KServe encode/decode, HTTP) and requests/s;
* embedding (MiniLM on CPU) and llm (loopback OpenAI stub answering after 200 ms, concurrency
  64): step time vs. the matcher-only ideal, measured in the same run: the same matcher alone in
  its own process matching all of the step's requests in one call. Target: within 1.3x. The LLM
  line also prints the theoretical ceil(calls / 64) x 200 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

WORDS = ("the response explains clearly uses correct code example wrong misses detail safety answer "
         "formatting concise accurate reasoning step math proof cites source table list error").split()


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build_tokenizer(out: Path, corpus: list[str]) -> Path:
    from rcstudio.testing.tokenizer import bpe_tokenizer

    fast = bpe_tokenizer(corpus, 2000, ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
                         additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    fast.save_pretrained(out)
    return out


def build_run(root: Path, prompts: int, rollouts: int, seed: int = 0):
    """Prompts, ground truth, a matches file, and the actor's sequences (right verdicts, unique reasons)."""
    from rcstudio.serve.ground_truth import prompt_sha

    rng = random.Random(seed)
    items = []
    for i in range(prompts):
        human = [f"Response {rng.choice('12')} " + sentence(rng) for _ in range(4)]
        body = " ".join(sentence(rng, 40) for _ in range(8))  # ~2,000 characters of pair context
        text = f"<|im_start|>user\nItem {i}. Compare A and B.\n{body}<|im_end|>\n<|im_start|>assistant\n"
        items.append({"id": f"item-{i}", "text": text, "human": human, "pref": rng.choice([-2, -1, 1, 2])})
    data = root / "data"
    data.mkdir(parents=True)
    with (data / "ground_truth.jsonl").open("w") as gt, (data / "train_prompts.jsonl").open("w") as tp:
        for it in items:
            gt.write(json.dumps({"prompt_sha": prompt_sha(it["text"]), "id": it["id"], "domain": "general",
                                 "preference": it["pref"], "swapped": False, "human_checklist": it["human"]}) + "\n")
            tp.write(json.dumps({"text": it["text"]}) + "\n")
    with (root / "matches.jsonl").open("w") as fh:
        for it in items:
            fh.write(json.dumps({"id": it["id"], "scores": np.eye(4).tolist()}) + "\n")
    responses = []
    for it in items:
        verdict = "B>A" if it["pref"] > 0 else "A>B"
        for r in range(rollouts):
            reasons = [h.replace("Response 1", "Response A").replace("Response 2", "Response B") + f" (rollout {r})"
                       for h in it["human"]]
            listing = "\n".join(f"{j}. {x}" for j, x in enumerate(reasons, 1))
            responses.append((it, f"<think>{sentence(rng, 30)}</think>\n<RESULT_START>\n{listing}\n\\boxed{{{verdict}}}\n<RESULT_END>"))
    from rcstudio.rationale.parse import parse_judgment

    with (root / "match_requests.jsonl").open("w") as fh:
        for it, resp in responses:
            fh.write(json.dumps({"id": it["id"], "human": it["human"], "model": parse_judgment(resp).reasons}) + "\n")
    return items, responses


def encode(tok_dir: Path, responses, micro_batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    cache: dict[str, list[int]] = {}
    seqs = []
    for it, resp in responses:
        if it["text"] not in cache:
            cache[it["text"]] = tok(it["text"], add_special_tokens=False)["input_ids"]
        seqs.append(cache[it["text"]] + tok(resp, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
    width = max(map(len, seqs))
    batches = []
    for i in range(0, len(seqs), micro_batch):
        chunk = seqs[i : i + micro_batch]
        tokens = np.zeros((len(chunk), width), dtype=np.int64)  # NeMo pads to a fixed length
        for j, s in enumerate(chunk):
            tokens[j, : len(s)] = s
        batches.append((tokens, np.asarray([[len(s)] for s in chunk], dtype=np.int64)))
    return batches


def write_spec(run_dir: Path, tok_dir: Path, matcher: str, args) -> None:
    from rcstudio.spec import dump_resolved, load_spec

    spec = run_dir / "spec.toml"
    spec.write_text(f"""
[experiment]
name = "bench-rm"
kind = "genrm-train"
[judge]
tokenizer = "{tok_dir}"
top_k = 0
[reward]
form = "gated"
[reward.matcher]
{matcher}
[rl]
global_batch_size = {args.prompts}
mini_batch_size = {args.prompts}
rollouts_per_prompt = {args.rollouts}
[rl.nemo_aligner]
rollout_micro_batch_size = 1
[tracking]
mode = "offline"
""")
    (run_dir / "spec.resolved.toml").write_text(dump_resolved(load_spec(spec)))


def start_server(run_dir: Path) -> tuple[subprocess.Popen, int]:
    ready = run_dir / "ready.json"
    log = open(run_dir / "server.log", "w")
    env = {**os.environ, "RCSTUDIO_HOME": str(run_dir / "home")}  # its own (empty) LLM cache
    proc = subprocess.Popen([sys.executable, "-m", "rcstudio", "serve-reward", "--run-dir", str(run_dir),
                             "--port", "0", "--ready-file", str(ready)], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"server failed; see {run_dir / 'server.log'}:\n{(run_dir / 'server.log').read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())["port"]


def run_step(port: int, batches, clients: int, label: str) -> dict:
    """All batches through `clients` threads; per-request latency and the step's wall time."""
    import tritonclient.http as triton
    from rich.progress import Progress

    local = threading.local()
    latencies: list[tuple[float, int]] = []
    rewards: list[float] = []
    lock = threading.Lock()

    def send(batch, bar, task):
        if not hasattr(local, "client"):
            local.client = triton.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=600, connection_timeout=60)
        tokens, lengths = batch
        t = triton.InferInput("tokens", list(tokens.shape), "INT64")
        t.set_data_from_numpy(tokens)
        n = triton.InferInput("sequence_lengths", list(lengths.shape), "INT64")
        n.set_data_from_numpy(lengths)
        start = time.perf_counter()
        out = local.client.infer("reward_model", [t, n],
                                 outputs=[triton.InferRequestedOutput("rewards", binary_data=True)])
        dt = time.perf_counter() - start
        with lock:
            latencies.append((dt, len(tokens)))
            rewards.extend(out.as_numpy("rewards").ravel().tolist())
        bar.advance(task, len(tokens))

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=sum(len(b[0]) for b in batches))
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda b: send(b, bar, task), batches))
        wall = time.perf_counter() - start
    per_seq_ms = np.asarray([dt / n * 1e3 for dt, n in latencies])
    return {"wall_s": wall, "requests": len(latencies), "sequences": len(rewards),
            "requests_per_s": len(latencies) / wall, "sequences_per_s": len(rewards) / wall,
            "per_seq_ms_p50": float(np.percentile(per_seq_ms, 50)), "per_seq_ms_p99": float(np.percentile(per_seq_ms, 99)),
            "mean_reward": float(np.mean(rewards))}


def scenario(root: Path, name: str, tok_dir: Path, matcher: str, batches, args, baseline: bool = False) -> dict:
    run_dir = root / name
    run_dir.mkdir()
    (run_dir / "data").symlink_to(root / "base" / "data")
    write_spec(run_dir, tok_dir, matcher, args)
    ideal = matcher_only(run_dir, root / "base" / "match_requests.jsonl") if baseline else None
    proc, port = start_server(run_dir)
    try:
        result = run_step(port, batches, args.clients, name)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    if ideal is not None:
        result["matcher_only_s"], result["ratio"] = ideal, result["wall_s"] / ideal
    return result


def matcher_only(run_dir: Path, requests_file: Path) -> float:
    """Baseline: the same matcher, alone in its own process, matching every request of the step in
    one call (its own batching and concurrency), model loaded and imports done beforehand."""
    env = {**os.environ, "RCSTUDIO_HOME": str(run_dir / "home-baseline")}
    out = subprocess.run([sys.executable, __file__, "--baseline-worker", str(run_dir), str(requests_file)],
                         capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode:
        raise SystemExit(f"baseline failed: {out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def baseline_worker(run_dir: Path, requests_file: Path) -> None:
    import asyncio

    from rcstudio.rationale.matchers import MatchRequest, make_matcher
    from rcstudio.serve.app import _warm
    from rcstudio.spec import load_resolved

    spec = load_resolved(run_dir)
    matcher = make_matcher(spec.reward.matcher)
    _warm(matcher, spec.reward.matcher)
    rows = [json.loads(line) for line in requests_file.read_text().splitlines()]
    requests = [MatchRequest(r["id"], r["human"], r["model"]) for r in rows]
    start = time.perf_counter()
    asyncio.run(matcher.amatch(requests))
    print(json.dumps({"seconds": time.perf_counter() - start, "requests": len(requests)}))


def grader(messages, model):
    text = messages[-1]["content"]
    n = int(re.search(r"\(n = (\d+)\)", text).group(1))
    k = int(re.search(r"\(k = (\d+)\)", text).group(1))
    return json.dumps({"scores": [[1 if i == j else 0 for j in range(k)] for i in range(n)]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=8, help="sequences per request (rollout micro-batch)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent requests (actor data-parallel ranks)")
    parser.add_argument("--llm-latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip", nargs="*", default=[], choices=["matrix", "embedding", "llm"])
    parser.add_argument("--baseline-worker", nargs=2, metavar=("RUN_DIR", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(Path(args.baseline_worker[0]), Path(args.baseline_worker[1]))
        return

    from rcstudio.testing.openai_stub import OpenAIStub

    root = Path(tempfile.mkdtemp(prefix="bench-rm-"))
    os.environ["RCSTUDIO_HOME"] = str(root / "home")  # fresh LLM cache: every matcher call is real
    items, responses = build_run(root / "base", args.prompts, args.rollouts)
    tok_dir = build_tokenizer(root / "tok", [it["text"] for it in items[:32]] + [r for _, r in responses[:256]])
    batches = encode(tok_dir, responses, args.micro_batch)
    n = len(responses)
    width = batches[0][0].shape[1]
    print(f"one RL step: {args.prompts} prompts x {args.rollouts} rollouts = {n} sequences, "
          f"{len(batches)} requests of {args.micro_batch} (padded to {width} tokens), {args.clients} concurrent")
    results = {}
    if "matrix" not in args.skip:
        r = scenario(root, "matrix", tok_dir, f'kind = "matrix"\nmatches_file = "{root / "base" / "matches.jsonl"}"',
                     batches, args)
        results["matrix"] = r
        print(f"\n[server overhead, matrix matcher ~free] {r['requests_per_s']:.1f} requests/s, "
              f"{r['sequences_per_s']:.0f} sequences/s; per sequence p50 {r['per_seq_ms_p50']:.2f} ms, "
              f"p99 {r['per_seq_ms_p99']:.2f} ms; step {r['wall_s']:.2f} s (mean reward {r['mean_reward']:.3f})")
    if "embedding" not in args.skip:
        r = scenario(root, "embedding", tok_dir, 'kind = "embedding"', batches, args, baseline=True)
        results["embedding"] = r
        print(f"[embedding matcher, CPU] step {r['wall_s']:.2f} s vs matcher-only {r['matcher_only_s']:.2f} s: "
              f"{r['ratio']:.2f}x; {r['requests_per_s']:.1f} requests/s (mean reward {r['mean_reward']:.3f})")
    if "llm" not in args.skip:
        with OpenAIStub(grader, latency_s=args.llm_latency) as stub:
            matcher = (f'kind = "llm"\nendpoint = "{stub.base_url}"\nmodel = "stub-model"\n'
                       f"concurrency = {args.concurrency}\ntimeout_s = 30\nmax_retries = 2")
            r = scenario(root, "llm", tok_dir, matcher, batches, args, baseline=True)
            calls = stub.calls // 2  # the baseline made the same calls
        theory = math.ceil(calls / args.concurrency) * args.llm_latency
        r["theoretical_s"], r["matcher_calls"] = theory, calls
        results["llm"] = r
        verdict = "within" if r["ratio"] <= 1.3 else "OVER"
        print(f"[LLM matcher, {args.llm_latency * 1e3:.0f} ms, concurrency {args.concurrency}] step {r['wall_s']:.2f} s "
              f"vs matcher-only {r['matcher_only_s']:.2f} s: {r['ratio']:.2f}x ({verdict} the 1.3x target); "
              f"theoretical ceil({calls}/{args.concurrency}) x {args.llm_latency:g} s = {theory:.2f} s "
              f"({r['wall_s'] / theory:.2f}x); {r['requests_per_s']:.1f} requests/s (mean reward {r['mean_reward']:.3f})")
    out = Path("benchmarks") / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_reward_server.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")
    plot(results, out / "bench_reward_server.png", n)


def plot(results: dict, path: Path, n: int) -> None:
    """Step time through the server vs. the matcher alone, per matcher (the 1.3x target drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in ("embedding", "llm") if k in results]
    if not names:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(names))
    ax.bar(x - 0.2, [results[k]["matcher_only_s"] for k in names], 0.4, label="matcher only")
    ax.bar(x + 0.2, [results[k]["wall_s"] for k in names], 0.4, label="through the reward server")
    ax.scatter(x - 0.2, [1.3 * results[k]["matcher_only_s"] for k in names], marker="_", s=400, color="k",
               label="1.3x target")
    ax.set_xticks(x, names)
    ax.set_ylabel("seconds per RL step")
    ax.set_title(f"Reward server, one step of {n} sequences")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
