"""Start-up of the light commands, as a user runs them: `rcstudio --help`, `ls`, `status RUN`.

    python benchmarks/bench_cli_start.py [--repeat 5] [--out DIR]

Each sample is a fresh process timed from spawn to exit, interleaved with the floor: a bare Typer
app with one command taking two options, run with them (what any Typer CLI pays: the interpreter,
typer, and typer's pydantic-based option parsing). The registry is a fresh RCSTUDIO_HOME with 200
runs. Target: every command < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402


BARE_TYPER = """
import typer
app = typer.Typer()
@app.command()
def main(name: str = typer.Option(None, "--name"), limit: int = typer.Option(None, "--limit")) -> None:
    print(name, limit)
app()
"""


def populate(home: Path, n: int) -> str:
    os.environ["RCSTUDIO_HOME"] = str(home)
    from rcstudio.launch.registry import Registry, RunRecord

    records = [
        RunRecord(run_id=f"exp-{i:06x}", name=f"exp-{i}", experiment="exp", kind="genrm-train", engine="trl",
                  executor="local", state="COMPLETED", created_at=1.79e9 + i, updated_at=1.79e9 + i, started_at=None, ended_at=None,
                  run_dir=str(home / "runs" / str(i)), spec_hash=f"{i:08x}")
        for i in range(n)
    ]  # fmt: skip
    Registry().add_runs(records)
    return records[-1].run_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    _bench.add_common_args(ap, repeat=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-cli-start-"))
    run_id = populate(home, args.runs)
    env = {**os.environ, "RCSTUDIO_HOME": str(home)}
    rcs = [sys.executable, "-m", "rcstudio"]
    _, listed = _bench.run_process([*rcs, "ls", "--json", "--no-refresh"], env=env, what="rcstudio ls --json")
    if len(json.loads(listed)["runs"]) != args.runs:
        raise SystemExit(f"rcstudio ls sees {len(json.loads(listed)['runs'])} runs, expected {args.runs}")
    commands = {
        "floor: a bare Typer app": [sys.executable, "-c", BARE_TYPER, "--name", "x", "--limit", "3"],
        "rcstudio --help": [*rcs, "--help"],
        "rcstudio ls": [*rcs, "ls"],
        f"rcstudio status {run_id}": [*rcs, "status", run_id],
    }
    sides = {name: (lambda argv=argv, name=name: _bench.run_process(argv, env=env, what=name)[0]) for name, argv in commands.items()}
    samples, loads = _bench.interleave(sides, args.repeat)
    floor = samples[next(iter(commands))]
    print(f"{args.repeat} interleaved rounds, {args.runs} runs in the registry; {loads[0]} at the start, {_bench.load()} at the end")
    for name, times in samples.items():
        verdict = "" if name.startswith("floor") else (
            f" -> {_bench.ratio(times, floor):.2f}x the floor; target < 0.5 s: {'met' if _bench.summary(times)['median'] < 0.5 else 'MISSED'}")
        print(f"{name:<40} {_bench.fmt(times)}{verdict}; {_bench.cpu_line(name)}")
    _bench.write_result(args.out, "bench_cli_start", {"loads": loads, "samples": samples})


if __name__ == "__main__":
    main()
