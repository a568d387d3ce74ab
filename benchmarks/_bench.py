"""What every benchmark script shares, so none of them can flatter the project.

* Samples are interleaved (A, B, A, B, ...): a load spike on a shared machine hits both sides.
* Each figure is a median with its spread (min-max) and the machine's load average at the time.
* Results go to a JSON file under `--out DIR` (default: a new temporary folder), named after the
  benchmark and the time - never over a file that is already there (so never over committed files).
* A baseline that cannot run is an error: `baseline_unavailable` prints why and exits 3.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BASELINE_UNAVAILABLE = 3  # exit status when the baseline cannot be measured
# CPU seconds (user + system) of each finished process, by its `what`: on a loaded machine wall
# clock mostly measures the queue for a core, CPU time what the process itself did
CPU: dict[str, list[float]] = {}


def load() -> str:
    """The 1/5/15-minute load averages and the core count, printed beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f} on {os.cpu_count()} cores"


def baseline_unavailable(why: str) -> None:
    """A ratio without its baseline means nothing: say why and fail (exit 3)."""
    print(f"BASELINE UNAVAILABLE: {why}", file=sys.stderr, flush=True)
    sys.exit(BASELINE_UNAVAILABLE)


def probe(argv: Sequence[str], what: str, env: dict | None = None, timeout: float = 300) -> str:
    """Run a baseline's smoke command; if it cannot start or fails, exit 3 saying so. -> stdout."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout)
    except OSError as exc:
        baseline_unavailable(f"{what}: cannot run {argv[0]}: {exc}")
    if proc.returncode:
        baseline_unavailable(f"{what}: `{' '.join(argv[:3])} ...` failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc.stdout


def add_common_args(parser: argparse.ArgumentParser, repeat: int = 3) -> None:
    parser.add_argument("--repeat", type=int, default=repeat, help="interleaved samples per side (median reported)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON result (default: a new temp folder)")


def summary(times: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


def fmt(times: Sequence[float], unit: str = "s") -> str:
    s = summary(times)
    if s["n"] == 1:
        return f"{s['median']:.3f} {unit} (1 sample)"
    return f"{s['median']:.3f} {unit} median (min {s['min']:.3f}, max {s['max']:.3f}, n={s['n']})"


def ratio(ours: Sequence[float], base: Sequence[float] | float) -> float:
    b = base if isinstance(base, (int, float)) else statistics.median(base)
    return statistics.median(ours) / b


def interleave(sides: dict[str, Callable[[], float]], repeat: int) -> tuple[dict[str, list[float]], list[str]]:
    """Run each side once per round, in turn (A B A B ...); each callable returns its own seconds.

    Returns the samples per side and the load average sampled before each round.
    """
    samples: dict[str, list[float]] = {name: [] for name in sides}
    loads: list[str] = []
    for _ in range(repeat):
        loads.append(load())
        for name, fn in sides.items():
            samples[name].append(fn())
    return samples, loads


def run_process(argv: Sequence[str], *, env: dict | None = None, timeout: float = 1800, what: str = "") -> tuple[float, str]:
    """Wall clock of a fresh process, from spawn to exit, as a user sees it; (seconds, stdout).
    A non-zero exit raises SystemExit with its stderr (a broken side must not produce a figure).
    Bytecode caching is on (PYTHONDONTWRITEBYTECODE dropped), as for an installed package."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files; so do we
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(what or argv[0], []).append(
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    if proc.returncode:
        raise SystemExit(f"{what or argv[0]} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def cpu_line(what: str) -> str:
    times = CPU.get(what)
    return f"CPU {fmt(times)}" if times else "CPU n/a"


def write_result(out: Path | None, name: str, payload: dict) -> Path:
    """Write `payload` (plus the load now) to OUT/NAME-<time>.json; never overwrite a file."""
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = folder / f"{name}-{stamp}.json"
    i = 1
    while path.exists():
        path = folder / f"{name}-{stamp}-{i}.json"
        i += 1
    payload = {"load_at_end": load(), "python": sys.version.split()[0], "cpu_s": CPU, **payload}
    with path.open("x", encoding="utf-8") as fh:  # "x": fails rather than overwrite
        fh.write(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"results: {path}")
    return path
