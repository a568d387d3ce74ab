"""Validate N generated specs: specs per second of `load_spec` + `expand` (what `rcstudio validate`
does before compile-time checks), against the baseline of a bare `tomllib` parse of the same files.

    python benchmarks/bench_validate.py [--n 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tomllib
from pathlib import Path


def generate(i: int, rng: random.Random) -> str:
    """A varied but valid spec: kinds, reward forms, sweeps, env interpolation, variants."""
    kind = rng.choice(["genrm-train", "genrm-train", "eval", "policy-rlhf"])
    lines = [f"# generated spec {i}", "[experiment]", f'name = "bench-{i}"', f'kind = "{kind}"',
             f'tags = ["bench", "g{i % 7}"]', "", "[judge]",
             'checkpoint = "${env:BENCH_CKPT,/ckpt}/model.nemo"', f"top_k = {rng.choice([0, 5])}", ""]
    if kind == "policy-rlhf":
        lines += ["[policy]", 'checkpoint = "/ckpt/policy.nemo"', ""]
    additive = rng.random() < 0.5
    lines += ["[reward]", f'form = "{"additive" if additive else "gated"}"']
    if additive:
        lines.append(f"alpha = {rng.choice([0.0, 0.25, 0.5, 0.8, 1.0])}")
    lines += [f'rationale_metric = "{rng.choice(["ap", "recall", "f1"])}"', "", "[reward.matcher]",
              f'kind = "{rng.choice(["llm", "embedding"])}"', f"concurrency = {rng.choice([16, 32, 64])}", ""]
    gbs = rng.choice([128, 256, 512])
    lines += ["[rl]", f"lr = {rng.choice([1e-6, 2e-6, 5e-7])}", f"global_batch_size = {gbs}",
              f"mini_batch_size = {gbs // rng.choice([1, 2, 4])}", f"rollouts_per_prompt = {rng.choice([4, 8])}",
              f"epochs = {rng.choice([1, 2])}", ""]
    lines += ["[cluster]", f'partition = "gpu{i % 3}"', f"nodes = {rng.choice([1, 2])}",
              'time = "04:00:00"', "", "[tracking]", f'mode = "{rng.choice(["online", "offline"])}"', ""]
    if kind == "eval":
        lines += ["[eval]", 'benchmarks = ["judgebench", "hs3-atomic"]', ""]
    if kind == "genrm-train" and rng.random() < 0.3:
        lines += ["[sweep]", 'grid = { "rl.lr" = [1e-6, 2e-6], "rl.seed" = [1, 2] }', ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from rich.progress import track

    from rcstudio.spec import expand, load_spec

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.n):
            path = Path(tmp) / f"spec{i}.toml"
            path.write_text(generate(i, rng))
            paths.append(path)

        t0 = time.perf_counter()
        for p in paths:
            tomllib.loads(p.read_text())
        baseline = time.perf_counter() - t0

        t0 = time.perf_counter()
        runs = 0
        for p in track(paths, description="validating", transient=True):
            runs += len(expand(load_spec(p)))
        full = time.perf_counter() - t0

    print(f"specs: {args.n}  runs: {runs}")
    print(f"baseline tomllib parse: {args.n / baseline:,.0f} specs/s ({baseline * 1e3 / args.n:.3f} ms/spec)")
    print(f"rcstudio validate (load_spec + expand): {args.n / full:,.0f} specs/s ({full * 1e3 / args.n:.3f} ms/spec)")
    print(f"ratio validate/baseline time: {full / baseline:.1f}x")


if __name__ == "__main__":
    main()
