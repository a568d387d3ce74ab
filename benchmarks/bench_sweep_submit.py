"""Compile and submit a 256-point alpha x lr sweep to the local Slurm cluster.

Target: ONE sbatch call and under 5 s for the whole sweep (load, expand, compile 256 run dirs,
submit, 256 registry rows). Baseline, measured in the same run: one sbatch call per run, estimated
from timing 8 sequential `sbatch` submissions and scaling to 256. The array is submitted held
(`--hold`) and cancelled right after, so the benchmark leaves the cluster idle.

    bash slurm/cluster.sh start
    python benchmarks/bench_sweep_submit.py [--points-per-axis 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
[experiment]
name = "bench-sweep"
kind = "eval"

[judge]
endpoint = "http://127.0.0.1:9/v1"

[reward]
form = "additive"

[cluster]
gpus_per_node = 0
cpus_per_task = 1
time = "00:05:00"
array_parallelism = 16
sbatch_extra = ["--hold"]

[sweep]
grid = {{ "reward.alpha" = {alphas}, "rl.lr" = {lrs} }}
"""


def counting_shim(bindir: Path, log: Path) -> None:
    """`sbatch` on PATH that records each call and runs the real one."""
    real = shutil.which("sbatch")
    shim = bindir / "sbatch"
    shim.write_text(f'#!/bin/bash\necho call >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)


def time_sequential_sbatch(n: int, workdir: Path) -> float:
    """Seconds per plain `sbatch` call (held jobs, cancelled afterwards)."""
    ids = []
    start = time.perf_counter()
    for i in range(n):
        out = subprocess.run(["sbatch", "--parsable", "--hold", "-o", str(workdir / f"base-{i}.out"),
                              "--wrap", "true"], capture_output=True, text=True, check=True)
        ids.append(out.stdout.strip())
    elapsed = time.perf_counter() - start
    subprocess.run(["scancel", *ids], check=False)
    return elapsed / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points-per-axis", type=int, default=16, help="16 x 16 = 256 runs")
    parser.add_argument("--baseline-calls", type=int, default=8)
    args = parser.parse_args()

    from rcstudio.launch.slurm import controller_answers

    if not controller_answers():
        print("no Slurm controller answers: run `bash slurm/cluster.sh start` first", file=sys.stderr)
        return 2
    n = args.points_per_axis
    alphas = [round(i / (n - 1), 4) for i in range(n)]
    lrs = [float(f"{1e-7 * (i + 1):.3g}") for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="rcs-bench-sweep-") as tmp:
        tmp = Path(tmp)
        os.environ["RCSTUDIO_HOME"] = str(tmp / "home")
        bindir = tmp / "bin"
        bindir.mkdir()
        calls_log = tmp / "sbatch-calls.log"
        counting_shim(bindir, calls_log)
        os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ['PATH']}"
        spec = tmp / "sweep.toml"
        spec.write_text(SPEC.format(alphas=alphas, lrs=lrs))

        from rcstudio.launch import Registry
        from rcstudio.launch.submit import execute_plan, plan_spec

        registry = Registry()
        t0 = time.perf_counter()
        plan = plan_spec(spec, executor="slurm", registry=registry)
        t1 = time.perf_counter()
        records = execute_plan(plan, registry)
        t2 = time.perf_counter()
        job_ids = sorted({r.job_id for r in records})
        subprocess.run(["scancel", *job_ids], check=False)
        sbatch_calls = len(calls_log.read_text().splitlines())
        rows = len(registry.list_runs())

        per_call = time_sequential_sbatch(args.baseline_calls, tmp)
        baseline = per_call * len(records)
        total = t2 - t0
        print(f"runs: {len(records)}  registry rows: {rows}  job ids: {', '.join(job_ids)}")
        print(f"sbatch calls: {sbatch_calls} (target 1)")
        print(f"wall time: {total:.2f} s (target < 5 s) = load+expand+compile {t1 - t0:.2f} s "
              f"+ submit+record {t2 - t1:.2f} s")
        print(f"baseline '{len(records)} sequential sbatch calls' (est. from {args.baseline_calls} at "
              f"{per_call * 1000:.1f} ms each): submit alone {baseline:.2f} s")
        print(f"ratio (baseline submit / our submit+record): {baseline / (t2 - t1):.1f}x; "
              f"sbatch calls {len(records)} -> {sbatch_calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
