"""run-job dispatch: step choice per kind/engine, pkg:// data, failures exit 1 with a log line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rcstudio.engines import dispatch
from rcstudio.errors import JobFailed, UserError
from rcstudio.spec import dump_resolved, load_spec

REPO = Path(__file__).resolve().parents[2]


def _spec(overrides=()):
    return load_spec(REPO / "specs" / "quickstart.toml", overrides)


def test_default_steps_follow_kind_and_engine():
    spec = _spec()
    assert dispatch.choose_target(spec, None).function == "run_eval_job"
    tiny = [r for r in __import__("rcstudio.spec", fromlist=["expand"]).expand(
        _spec(["variants.tiny-trl.enabled=true"])) if r.spec.experiment.kind == "genrm-train"][0].spec
    assert dispatch.choose_target(tiny, None).module == "rcstudio.engines.trl.train"
    assert dispatch.choose_target(tiny, "prepare").function == "prepare_data"
    with pytest.raises(UserError, match="unknown step"):
        dispatch.choose_target(spec, "bake")
    with pytest.raises(UserError, match="trl engine only"):
        dispatch.choose_target(spec, "train")  # rl.engine defaults to nemo-aligner


def test_nemo_aligner_training_has_no_single_process_step():
    spec = _spec(['experiment.kind="genrm-train"', 'data.train=["x.jsonl"]', "cluster.gpus_per_node=8"])
    with pytest.raises(UserError, match="hetjob"):
        dispatch.default_step(spec)


def test_pkg_sources_resolve_to_shipped_files():
    path = Path(dispatch.resolve_source("pkg://rcstudio/data/quickstart/pairs.jsonl"))
    assert path.is_file() and path.stat().st_size > 10_000
    assert dispatch.resolve_source("/abs/file.jsonl") == "/abs/file.jsonl"
    with pytest.raises(UserError, match="no such file"):
        dispatch.resolve_source("pkg://rcstudio/data/nope.jsonl")
    resolved = dispatch.resolve_sources(_spec())
    assert resolved.data.eval == [str(path)]


def test_failed_step_exits_1_and_logs_one_clear_line(tmp_path):
    run_dir = tmp_path / "quickstart-bad"
    run_dir.mkdir()
    spec = _spec(['data.eval=["pkg://rcstudio/data/quickstart/missing.jsonl"]'])
    (run_dir / "spec.resolved.toml").write_text(dump_resolved(spec))
    with pytest.raises(JobFailed, match="no such file"):
        dispatch.run_job(run_dir)
    log = (run_dir / "logs" / "run-job.log").read_text()
    assert "failed" in log and "missing.jsonl" in log
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "run-job", "--run-dir", str(run_dir)],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "missing.jsonl" in proc.stderr


def test_not_a_run_dir_is_a_user_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rcstudio", "run-job", "--run-dir", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "spec.resolved.toml is missing" in proc.stderr and "Traceback" not in proc.stderr
