"""The quickstart-sized format warm-up: SmolLM2-135M-Instruct's parse rate on the 40 shipped pairs
before and after N warm-up steps (the figure in the README; not asserted in a test).

Runs the real warm-up (`engines/warmup.warm_up`): examples = the sample's stored judgments whose
verdict agrees with the humans (`priming_examples`), one example per AdamW step; parse rate =
share of greedy outputs (batched, `--max-new-tokens`, enough for a stored judgment's length) that
`parse_judgment` accepts, on the 40 pairs in their original order. The examples come from the same
40 pairs, so the figure says whether the model learned the format, not whether it judges well.
Usage: python benchmarks/bench_warmup_quickstart.py [--steps 40] [--lr 1e-4] [--max-new-tokens 192]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from rcstudio import paths
    from rcstudio.engines.dispatch import resolve_source
    from rcstudio.engines.trl.train import priming_examples
    from rcstudio.rationale.prompt import render_judge_prompt
    from rcstudio.engines.warmup import warm_up
    from rcstudio.rationale.data import load_pairs
    from rcstudio.testing import smollm

    model_dir = args.model_dir or smollm.smollm2_dir(paths.cache_dir("smollm2-135m-instruct"))
    items = load_pairs(resolve_source("pkg://rcstudio/data/quickstart/pairs.jsonl")).items
    # the pairs in their original order, as the quickstart judge prompt renders them (top 5 reasons)
    rows = [{"prompt": render_judge_prompt(it, top_k=5, swapped=False, template="rcstudio-genrm-v1"),
             "item_id": str(it.id), "swapped": False} for it in items]
    examples = priming_examples(items, rows)
    load0 = os.getloadavg()[0]
    start = time.perf_counter()
    result = warm_up(str(model_dir), Path(tempfile.mkdtemp(prefix="warmup-quickstart-")), examples, args.steps,
                     args.lr, seed=0, eval_prompts=[r["prompt"] for r in rows], max_new_tokens=args.max_new_tokens,
                     log=lambda m: print(f"  {m}", flush=True))
    seconds = time.perf_counter() - start
    out = {**result.to_json(), "pairs": len(rows), "lr": args.lr, "max_new_tokens": args.max_new_tokens,
           "wall_s": round(seconds, 1), "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
           "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    print(f"warm-up on the quickstart sample: SmolLM2-135M-Instruct, {len(rows)} pairs, {len(examples)} examples, "
          f"{args.steps} steps (lr {args.lr:g}): parse rate {100 * result.parse_rate_before:.0f}% -> "
          f"{100 * result.parse_rate_after:.0f}% (greedy, max_new_tokens {args.max_new_tokens}); "
          f"{seconds:.0f} s, load {load0:.1f}->{out['load_after']:.1f} on {os.cpu_count()} CPUs", flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
