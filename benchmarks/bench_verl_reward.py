"""One RL step's reward through verl's own reward loop: 256 prompts x 8 rollouts = 2,048 rollouts.

    python benchmarks/bench_verl_reward.py OUT_DIR                 # 256 x 8, 3 interleaved repetitions
    python benchmarks/bench_verl_reward.py OUT_DIR --prompts 64    # smaller, for a busy machine

verl 0.9.1's `RewardLoopManager` (local Ray, the run's compiled config: naive manager, one reward
worker) scores the step's rollouts by calling rcstudio's reward module (`engines/verl/reward.py`),
whose LLM matcher talks to the loopback OpenAI stub answering after 200 ms with concurrency 64.
Every rollout has a right verdict and its own reasons, so every one needs a matcher call (no cache
hits: each repetition's reasons are new). Baselines, measured in the same run and interleaved with
the verl step: the matcher alone matching the same number of requests in one call (rcstudio's
LLMMatcher, same stub, same concurrency) and the ideal ceil(2048 / 64) x 0.2 s. Target: verl step
<= 1.3x the ideal. Runs in the verl Python (`.venv-verl/bin/python`; scripts/setup.sh builds it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback-only Ray: no token written to ~/.ray
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORDS = ("the response explains clearly uses correct code example wrong misses detail safety answer "
         "formatting concise accurate reasoning step math proof cites source table list error").split()
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def sentence(rng: random.Random, n: int = 10) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def responder(messages, model):
    """An exact-match grader (the stub's reply): 1 where a reason is the human item, else 0."""
    import re

    text = messages[-1]["content"]
    human = re.findall(r"^H\d+\. (.*)$", text, re.M)
    reasons = re.findall(r"^M\d+\. (.*)$", text, re.M)
    norm = [h.replace("Response 1", "Response A").replace("Response 2", "Response B") for h in human]
    return json.dumps({"scores": [[1.0 if m.startswith(h) else 0.0 for m in reasons] for h in norm]})


def build(out: Path, prompts: int, rollouts: int, endpoint: str):
    """Pairs -> spec -> compiled verl run -> parquet (the shared prep); returns (run_dir, rows, spec)."""
    from rcstudio.compile import compile_run
    from rcstudio.engines.verl.data import prepare_parquet
    from rcstudio.spec import expand, load_spec
    from rcstudio.testing.tokenizer import bpe_tokenizer

    rng = random.Random(0)
    tok_dir = out / "tokenizer"
    corpus = [sentence(rng, 40) for _ in range(300)]
    tok = bpe_tokenizer(corpus, 1500, ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
                        additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = CHATML
    tok.save_pretrained(tok_dir)
    pairs, held_out = out / "pairs.jsonl", out / "val.jsonl"
    val_items = 8  # training items the shared prep holds out for validation (data.val_items)
    with pairs.open("w") as fh, held_out.open("w") as val:
        for i in range(prompts + val_items + 8):
            (fh if i < prompts + val_items else val).write(json.dumps({
                "id": f"item-{i}", "domain": "general",
                "context": [{"role": "user", "content": f"Item {i}. " + sentence(rng, 60)}],
                "response1": sentence(rng, 80), "response2": sentence(rng, 80),
                "overall_preference": rng.choice([-2, -1, 1, 2]),
                "human-checklist": [f"Response {rng.choice('12')} " + sentence(rng) for _ in range(4)],
            }) + "\n")
    spec = out / "bench.toml"
    spec.write_text(f"""
[experiment]
name = "bench-verl-reward"
kind = "genrm-train"
[judge]
model = "{tok_dir}"
top_k = 0
[data]
train = ["{pairs}"]
eval = ["{held_out}"]
swap = "none"
val_items = {val_items}
[reward]
form = "gated"
[reward.matcher]
kind = "llm"
endpoint = "{endpoint}"
model = "stub-model"
concurrency = 64
[rl]
engine = "verl"
algorithm = "grpo"
global_batch_size = {prompts}
mini_batch_size = {prompts}
rollouts_per_prompt = {rollouts}
max_prompt_tokens = 4096
max_generation_tokens = 512
[rl.verl]
trainer_command = ["true"]
[cluster]
gpus_per_node = 0
[tracking]
mode = "disabled"
""")
    (run,) = expand(load_spec(spec))
    run_dir = out / "run"
    compile_run(run, run_dir)
    prepare_parquet(run_dir, run.spec)
    import pyarrow.parquet as pq

    rows = pq.read_table(run_dir / "data" / "train.parquet").to_pylist()[:prompts]
    return run_dir, rows, run.spec


def responses_for(rows, rollouts: int, rep: int) -> list[str]:
    """Right verdicts, each rollout with its own reasons (this repetition's tag: no cache hits)."""
    out = []
    for row in rows:
        info = row["extra_info"]
        verdict = "B>A" if info["preference"] > 0 else "A>B"
        for r in range(rollouts):
            reasons = [h.replace("Response 1", "Response A").replace("Response 2", "Response B")
                       + f" (rep {rep} rollout {r})" for h in info["human_checklist"]]
            listing = "\n".join(f"{j}. {x}" for j, x in enumerate(reasons, 1))
            out.append(f"<think>weighing</think>\n<RESULT_START>\n{listing}\n\\boxed{{{verdict}}}\n<RESULT_END>")
    return out


def matcher_only(spec, rows, rollouts: int, rep: int) -> float:
    """The baseline: rcstudio's LLM matcher alone on the same number of requests, one call."""
    from rcstudio.rationale.matchers import MatchRequest, make_matcher
    from rcstudio.rationale.parse import parse_judgment

    matcher = make_matcher(spec.reward.matcher, cache=None)
    texts = responses_for(rows, rollouts, rep)
    infos = [row["extra_info"] for row in rows for _ in range(rollouts)]
    requests = [MatchRequest(item_id=i["id"], human=list(i["human_checklist"]), model=parse_judgment(t).reasons,
                             swapped=i["swapped"]) for i, t in zip(infos, texts)]
    t0 = time.perf_counter()
    matcher.match(requests)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output directory (run dir, figures JSON)")
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["RCSTUDIO_HOME"] = str(args.out / "home")  # the LLM cache of this run only

    from rcstudio.testing.openai_stub import OpenAIStub
    from rcstudio.engines.verl.rollouts import RewardRun

    n = args.prompts * args.rollouts
    ideal = math.ceil(n / args.concurrency) * args.latency
    with OpenAIStub(responder, latency_s=args.latency) as stub:
        run_dir, rows, spec = build(args.out, args.prompts, args.rollouts, stub.base_url)
        rows_rep = [row for row in rows for _ in range(args.rollouts)]
        run = RewardRun(run_dir, num_cpus=2)
        try:
            # warm-up: the reward worker builds its matcher and imports on the first call
            run.score(rows_rep[:8], responses_for(rows[:1], args.rollouts, -1))
            verl_s, base_s, means = [], [], []
            for rep in range(args.repeats):  # interleaved: verl step, then the matcher alone
                before = stub.calls
                result = run.score(rows_rep, responses_for(rows, args.rollouts, rep))
                assert stub.calls - before >= n, f"only {stub.calls - before} matcher calls for {n} rollouts"
                verl_s.append(result["wall_s"])
                means.append(sum(result["scores"]) / n)
                base_s.append(matcher_only(spec, rows, args.rollouts, 1000 + rep))
                print(f"rep {rep}: verl step {verl_s[-1]:.2f} s, matcher alone {base_s[-1]:.2f} s, "
                      f"mean reward {means[-1]:.3f}, load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            run.close()
    med_v, med_b = statistics.median(verl_s), statistics.median(base_s)
    figures = {
        "rollouts": n, "latency_s": args.latency, "concurrency": args.concurrency, "repeats": args.repeats,
        "verl_step_s": verl_s, "matcher_only_s": base_s, "ideal_s": ideal,
        "median_verl_step_s": med_v, "median_matcher_only_s": med_b,
        "ratio_vs_ideal": med_v / ideal, "ratio_vs_matcher_only": med_v / med_b,
        "load_avg_1m": os.getloadavg()[0], "cpus": os.cpu_count(), "mean_reward": means,
    }
    (args.out / "bench_verl_reward.json").write_text(json.dumps(figures, indent=2))
    print(f"verl reward step, {n} rollouts: median {med_v:.2f} s = {med_v / ideal:.2f}x the ideal "
          f"ceil({n}/{args.concurrency}) x {args.latency:g} s = {ideal:.2f} s (target <= 1.3x); "
          f"{med_v / med_b:.2f}x the matcher alone ({med_b:.2f} s); load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs", flush=True)
    return 0 if med_v / ideal <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
