"""Offline `.wandb` reader vs `wandb leet inspect --json`, both as fresh processes, on 100k-step runs
with 5 and with 20 metrics per step.

    python benchmarks/bench_offline_reader.py [--steps 100000] [--metrics 5 20] [--keys 2]
                                              [--repeat 3] [--out DIR] [--wandb PATH]

Each run is written once with the real wandb library (offline) and cached under
RCSTUDIO_HOME/cache/bench/. Per round, interleaved, each timed from spawn to exit:

* rcstudio: `python -c` reading the run with `read_run(path, keys=...)` for `--keys` of its
  metrics (what a dashboard chart or `rcstudio compare` asks for), then history, summary, config
  and state - imports included;
* baseline: `wandb leet inspect --json FILE` with its output discarded - W&B's own record dumper
  (Go, in wandb-core), started through the `wandb` command as a user starts it. Parsing its JSON
  to get the same histories would only add to it, so this is its lower bound.

Target: >= 8x faster than the baseline for both runs. A missing `wandb leet` exits 3 (no figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402


def metric_keys(n: int) -> list[str]:
    return ["reward/total", "reward/rationale"] + [f"train/metric_{j:02d}" for j in range(n - 2)]


def ensure_run(steps: int, metrics: int) -> Path:
    from rcstudio import paths
    from rcstudio.tracking.offline import find_wandb_files

    root = paths.cache_dir("bench") / f"offline-{steps}x{metrics}"
    found = find_wandb_files(root) if root.exists() else []
    if found:
        return found[0]
    shutil.rmtree(root, ignore_errors=True)
    import wandb

    keys = metric_keys(metrics)
    print(f"writing a {steps}-step, {metrics}-metric offline run (once) ...", flush=True)
    run = wandb.init(mode="offline", dir=str(root), id=f"bench{steps}x{metrics}", project="bench",
                     settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))  # fmt: skip
    for i in range(steps):
        run.log({k: i * 1e-3 + j for j, k in enumerate(keys)})
    run.finish()
    from rcstudio.tracking.offline import wait_finished

    wait_finished(root, f"bench{steps}x{metrics}", timeout_s=300)
    return find_wandb_files(root)[0]


OURS = """
import json, sys
from rcstudio.tracking.offline import read_run
keys = json.loads(sys.argv[2])
run = read_run(sys.argv[1], keys=keys)
hist = run.history(keys)
_ = run.summary, run.config, run.state
print(json.dumps({k: len(v.values) for k, v in hist.items()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--metrics", type=int, nargs="+", default=[5, 20])
    ap.add_argument("--keys", type=int, default=2, help="metrics read by rcstudio (the first N)")
    ap.add_argument("--wandb", default="wandb", help="the wandb command for the baseline")
    _bench.add_common_args(ap)
    args = ap.parse_args()

    exe = shutil.which(args.wandb)
    if exe is None:
        _bench.baseline_unavailable(f"no `{args.wandb}` command on PATH for `wandb leet inspect`")
    _bench.probe([exe, "leet", "inspect", "--help"], "the `wandb leet inspect` baseline")

    results = {}
    for metrics in args.metrics:
        path = ensure_run(args.steps, metrics)
        keys = metric_keys(metrics)[: args.keys]
        env = dict(os.environ)

        def ours(path=path, keys=keys) -> float:
            wall, out = _bench.run_process([sys.executable, "-c", OURS, str(path), json.dumps(keys)], env=env, what=f"rcstudio reader {metrics}")
            counts = json.loads(out.strip().splitlines()[-1])
            assert all(n == args.steps for n in counts.values()), counts
            return wall

        def leet(path=path) -> float:
            return _bench.run_process([exe, "leet", "inspect", "--json", str(path)], what=f"wandb leet inspect {metrics}")[0]

        samples, loads = _bench.interleave({"rcstudio": ours, "leet": leet}, args.repeat)
        speedup = 1 / _bench.ratio(samples["rcstudio"], samples["leet"])
        results[metrics] = {"file": str(path), "mb": path.stat().st_size / 1e6, "keys": keys, "samples": samples,
                            "loads": loads, "speedup": speedup}  # fmt: skip
        print(f"\n{args.steps} steps x {metrics} metrics ({path.stat().st_size / 1e6:.1f} MB), rcstudio reads {len(keys)} of them; "
              f"{loads[0]} at the start of the rounds")  # fmt: skip
        print(f"  rcstudio reader, fresh process (imports included): {_bench.fmt(samples['rcstudio'])}; "
              f"{_bench.cpu_line(f'rcstudio reader {metrics}')}")  # fmt: skip
        print(f"  baseline `wandb leet inspect --json` (output discarded): {_bench.fmt(samples['leet'])}; "
              f"{_bench.cpu_line(f'wandb leet inspect {metrics}')}")  # fmt: skip
        print(f"  -> rcstudio is {speedup:.1f}x faster (target >= 8x: {'met' if speedup >= 8 else 'MISSED'}); load now {_bench.load()}")
    _bench.write_result(args.out, "bench_offline_reader", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
