"""Offline `.wandb` reader vs `wandb leet inspect --json` on the same 100k-step, 2-metric run.

    python benchmarks/bench_offline_reader.py [--steps 100000] [--repeat 3]

The run is written once with the real wandb library (offline) and cached under
RCSTUDIO_HOME/cache/bench/. Both sides end with the same thing in hand: the two metrics' full
histories. The baseline is wandb's own record dumper (Go, part of wandb-core) plus parsing its JSON
lines; the raw dump time (output discarded) is printed as well. Target: >= 5x faster.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

KEYS = ("reward/total", "reward/rationale")


def ensure_run(steps: int) -> Path:
    from rcstudio import paths
    from rcstudio.tracking.offline import find_wandb_files

    root = paths.cache_dir("bench") / f"offline-{steps}"
    found = find_wandb_files(root) if root.exists() else []
    if found:
        return found[0]
    shutil.rmtree(root, ignore_errors=True)
    import wandb
    from rich.progress import track

    run = wandb.init(mode="offline", dir=str(root), id=f"bench{steps}", project="bench",
                     settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
    for i in track(range(steps), description=f"writing a {steps}-step offline run"):
        run.log({KEYS[0]: i * 1e-3, KEYS[1]: 1.0 - i * 1e-5})
    run.finish()
    return find_wandb_files(root)[0]


def ours(path: Path) -> dict[str, int]:
    from rcstudio.tracking.offline import read_run

    run = read_run(path)
    hist = run.history(KEYS)
    _ = run.summary, run.config, run.state
    return {k: len(v) for k, v in hist.items()}


def leet_parse(path: Path) -> dict[str, int]:
    proc = subprocess.run(["wandb", "leet", "inspect", "--json", str(path)], capture_output=True, check=True)
    hist: dict[str, list] = {k: [] for k in KEYS}
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("type") == "history":
            item = rec["history"]["item"]
            for k in KEYS:
                if k in item:
                    hist[k].append((item["_step"], item[k]))
    return {k: len(v) for k, v in hist.items()}


def leet_raw(path: Path) -> None:
    subprocess.run(["wandb", "leet", "inspect", "--json", str(path)], stdout=subprocess.DEVNULL, check=True)


def timed(fn, path: Path, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(path)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = ensure_run(args.steps)
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.steps} steps x {len(KEYS)} metrics)")
    t_ours, n_ours = timed(ours, path, args.repeat)
    print(f"rcstudio reader (history + summary + config + state): {t_ours:.3f} s  {n_ours}")
    if shutil.which("wandb") is None or subprocess.run(["wandb", "leet", "--help"], capture_output=True).returncode:
        print("baseline unavailable: this wandb has no `wandb leet inspect`")
        sys.exit(0)
    t_raw, _ = timed(leet_raw, path, args.repeat)
    t_leet, n_leet = timed(leet_parse, path, args.repeat)
    assert n_leet == n_ours, (n_leet, n_ours)
    print(f"baseline `wandb leet inspect --json` alone (output discarded): {t_raw:.3f} s")
    print(f"baseline `wandb leet inspect --json` + parsing its history lines: {t_leet:.3f} s")
    print(f"speed-up vs leet+parse: {t_leet / t_ours:.1f}x   vs leet alone: {t_raw / t_ours:.1f}x   (target >= 5x)")


if __name__ == "__main__":
    main()
