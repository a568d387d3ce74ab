"""The README's main command, run the way a new user runs it: fresh RCSTUDIO_HOME, no network.

`rcstudio submit specs/quickstart.toml --executor local --wait` must complete, record a COMPLETED run
in the registry, and leave results that show the point of the quickstart: the two stored judges have
the same outcome accuracy but very different rationale consistency; plus the RC-vs-OA plot and an
offline W&B run the dashboard can read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _rcstudio(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # RCSTUDIO_HOME, WANDB_MODE=offline, HF_HUB_OFFLINE=1 from tests/conftest.py
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_quickstart_main_command(rcstudio_home):
    proc = _rcstudio("submit", "specs/quickstart.toml", "--executor", "local", "--wait")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "COMPLETED" in proc.stdout

    from rcstudio.launch.registry import Registry

    [run] = Registry().list_runs(experiment="quickstart")
    assert run.state == "COMPLETED" and run.kind == "eval" and run.executor == "local"
    run_dir = Path(run.run_dir)
    assert run_dir.is_relative_to(rcstudio_home)

    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    judges = summary["benchmarks"]["hs3-atomic"]
    ev, sf = judges["evidence-judge"], judges["surface-judge"]
    assert ev["items"] == sf["items"] == 40 and ev["valid"] == sf["valid"] == 40
    oa = {name: j["oa"]["mean"] for name, j in judges.items()}
    rc = {name: j["rc"]["mean"] for name, j in judges.items()}
    assert abs(oa["evidence-judge"] - oa["surface-judge"]) <= 0.05, oa      # OA cannot tell them apart
    assert rc["evidence-judge"] - rc["surface-judge"] >= 0.4, rc             # RC can
    assert ev["rc"]["ci_low"] > sf["rc"]["ci_high"]                          # and the CIs do not overlap
    for name in judges:
        per_judge = json.loads((run_dir / "results" / f"hs3-atomic.{name}.json").read_text())
        assert per_judge["rc"]["mean"] == pytest.approx(rc[name])

    png = run_dir / "results" / "rc_vs_oa.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000

    from rcstudio.tracking.offline import find_wandb_files, read_run

    [wandb_file] = find_wandb_files(run_dir / "wandb")
    wb = read_run(wandb_file)
    assert wb.run_id == run.run_id and wb.group == "quickstart"
    assert wb.summary["eval/hs3_atomic/evidence-judge/rc"] == pytest.approx(rc["evidence-judge"], abs=1e-4)
    assert wb.summary["eval/hs3_atomic/surface-judge/oa"] == pytest.approx(oa["surface-judge"], abs=1e-4)

    from rcstudio.engines.results import rows_for

    table = {row.subject: row for row in rows_for(run_dir)}  # the end-of-run results table
    assert table["evidence-judge"].rc == pytest.approx(rc["evidence-judge"])
    assert table["surface-judge"].oa == pytest.approx(oa["surface-judge"])

    log = (run_dir / "logs" / "run-job.log").read_text()
    assert "step eval done" in log

    # resubmitting the same spec is refused instead of silently duplicating the run
    again = _rcstudio("submit", "specs/quickstart.toml", "--executor", "local")
    assert again.returncode == 2 and "already" in again.stderr


@pytest.mark.slow
def test_quickstart_set_flag_adds_a_tiny_trl_training_run(rcstudio_home):
    proc = _rcstudio("submit", "specs/quickstart.toml", "--executor", "local",
                     "--set", "variants.tiny-trl.enabled=true", "--wait")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    from rcstudio.launch.registry import Registry

    runs = {r.name: r for r in Registry().list_runs(experiment="quickstart")}
    assert set(runs) == {"quickstart", "quickstart-tiny-trl"}
    assert all(r.state == "COMPLETED" for r in runs.values())
    train = runs["quickstart-tiny-trl"]
    assert train.kind == "genrm-train" and train.engine == "trl"
    run_dir = Path(train.run_dir)
    summary = json.loads((run_dir / "results" / "train_summary.json").read_text())
    # 40 pairs less the 5% the shared prep holds out for validation (engines/prepare.py, every engine)
    assert summary["global_step"] == 2 and summary["engine"] == "trl" and summary["prompts"] == 38
    assert (run_dir / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    assert (run_dir / "model" / "tokenizer.json").is_file()  # the tiny:// judge was built in the run dir

    from rcstudio.tracking.offline import find_wandb_files, read_run

    [wandb_file] = find_wandb_files(run_dir / "wandb")
    wb = read_run(wandb_file)
    assert wb.group == "quickstart" and wb.run_id == train.run_id  # same group as the eval run
    assert {"reward/total", "reward/outcome", "reward/format_error_rate", "train/loss"} <= set(wb.keys())
