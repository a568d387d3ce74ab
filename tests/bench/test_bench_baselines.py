"""Benchmark scripts refuse to print a ratio without their baseline: a baseline that cannot run is
exit status 3 and a message naming it, never a figure against nothing. And results go to the
folder given with --out, as new files. Only the cheap refusals run here (no measuring)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BASELINE_UNAVAILABLE = 3


def bench(repo_root, script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_llm_matcher.py", ("--items", "4", "--python", "/nonexistent/python")),
        ("bench_embedding_matcher.py", ("--items", "4", "--python", "/nonexistent/python")),
        ("bench_offline_reader.py", ("--steps", "10", "--wandb", "/nonexistent/wandb")),
    ],
)
def test_a_missing_baseline_is_a_loud_failure(repo_root, script, args):
    done = bench(repo_root, script, *args)
    assert done.returncode == BASELINE_UNAVAILABLE, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    assert "BASELINE UNAVAILABLE" in done.stderr and "/nonexistent/" in done.stderr
    assert "x faster" not in done.stdout and "x the" not in done.stdout  # no ratio printed


def test_offline_reader_without_leet_in_wandb_fails(repo_root, tmp_path):
    """A `wandb` command that has no `leet inspect` (here: a script that fails) is no baseline either."""
    fake = tmp_path / "wandb"
    fake.write_text("#!/bin/sh\necho 'No such command leet' >&2\nexit 2\n")
    fake.chmod(0o755)
    done = bench(repo_root, "bench_offline_reader.py", "--steps", "10", "--wandb", str(fake))
    assert done.returncode == BASELINE_UNAVAILABLE and "leet" in done.stderr


def test_results_go_to_new_files_under_out(repo_root, tmp_path):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        import _bench
    finally:
        sys.path.pop(0)
    out = tmp_path / "results"
    first = _bench.write_result(out, "bench_x", {"figure": 1})
    second = _bench.write_result(out, "bench_x", {"figure": 2})
    assert first != second and first.parent == second.parent == out
    assert json.loads(first.read_text())["figure"] == 1 and json.loads(second.read_text())["figure"] == 2
    assert "load" in json.loads(first.read_text())["load_at_end"]
    samples, loads = _bench.interleave({"a": lambda: 1.0, "b": lambda: 2.0}, 3)
    assert samples == {"a": [1.0] * 3, "b": [2.0] * 3} and len(loads) == 3
    with pytest.raises(SystemExit, match="failed"):
        _bench.run_process([sys.executable, "-c", "import sys; sys.exit(4)"], what="a side")
