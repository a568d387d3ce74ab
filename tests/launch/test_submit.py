"""submit_spec: dry runs write nothing, duplicates are refused, --force gives new ids, a refused
sbatch leaves no row and no run directory, and a spec runs end to end on the local executor."""

from __future__ import annotations

import json

import pytest

from rcstudio import paths
from rcstudio.errors import JobFailed, UserError
from rcstudio.launch import Poller, Registry, submit_spec
from rcstudio.launch.executors import LocalExecutor, SlurmExecutor
from rcstudio.launch.submit import execute_plan

from launch_helpers import trivial_plan


def run_dirs() -> list:
    root = paths.runs_root()
    return sorted(root.iterdir()) if root.exists() else []


def test_dry_run_writes_no_row_and_no_run_dir(write_spec, registry):
    spec = write_spec("dry", seeds=[0, 1, 2])
    records = submit_spec(spec, executor="local", dry_run=True)
    assert len(records) == 3 and all(r.job_id is None for r in records)
    assert records[0].wandb["id"] == records[0].run_id and records[0].wandb["group"] == "dry"
    assert registry.list_runs() == [] and run_dirs() == []


def test_local_end_to_end_and_registry_rows(write_spec, registry):
    spec = write_spec("e2e", seeds=[0, 1])
    plan = trivial_plan(spec, "import os; print('job in', os.path.basename(os.getcwd()))", executor="local")
    records = execute_plan(plan, registry)
    assert {r.executor for r in records} == {"local"} and len({r.job_id for r in records}) == 2
    final = Poller(registry).wait([r.run_id for r in records], interval=0.2, timeout=60)
    assert [r.state for r in final] == ["COMPLETED", "COMPLETED"]
    assert all(r.started_at and r.ended_at for r in final)
    row = final[0]
    assert row.kind == "eval" and row.tags == ["launch-test"] and row.point == {"eval.seed": 0}
    assert row.wandb == {"mode": "offline", "entity": "", "project": "rcstudio", "id": row.run_id,
                         "group": "e2e", "dir": f"{row.run_dir}/wandb"}
    log = (paths.runs_root() / "e2e" / row.run_id / "logs" / "stdout.log").read_text()
    assert f"job in {row.run_id}" in log
    submission = json.loads((paths.runs_root() / "e2e" / row.run_id / "submission.json").read_text())
    assert submission["spec"] == str(spec.resolve())


def test_identical_spec_is_refused_then_forced(write_spec, registry):
    spec = write_spec("dup")
    first = execute_plan(trivial_plan(spec, executor="local"), registry)
    with pytest.raises(UserError, match=rf"already exists \(run {first[0].run_id}") as info:
        submit_spec(spec, executor="local")
    assert "--force" in info.value.hint
    forced = execute_plan(trivial_plan(spec, executor="local", force=True), registry)
    assert forced[0].run_id == first[0].run_id + "-2"
    assert forced[0].spec_hash == first[0].spec_hash
    assert len(registry.list_runs()) == 2
    Poller(registry).wait([first[0].run_id, forced[0].run_id], interval=0.2, timeout=60)


def test_a_grown_sweep_submits_only_its_new_points(write_spec, registry):
    """Adding points to a submitted sweep (or enabling a variant) submits the new runs only."""
    first = execute_plan(trivial_plan(write_spec("grow", seeds=[0, 1]), executor="local"), registry)
    plan = trivial_plan(write_spec("grow", seeds=[0, 1, 2]), executor="local")
    assert sorted(r.run_id for r in plan.skipped) == sorted(r.run_id for r in first)
    assert [p.run.point for p in plan.runs] == [{"eval.seed": 2}]
    assert [s["run_id"] for s in plan.describe()["skipped"]] == [r.run_id for r in plan.skipped]
    added = execute_plan(plan, registry)
    assert len(added) == 1 and len(registry.list_runs()) == 3
    Poller(registry).wait([r.run_id for r in first + added], interval=0.2, timeout=60)


def test_refused_sbatch_leaves_nothing(write_spec, registry, slurm_shims):
    calls = slurm_shims(fail={"sbatch": "sbatch: error: Batch job submission failed: Invalid account"})
    spec = write_spec("atomic", seeds=[0, 1, 2, 3])
    with pytest.raises(JobFailed, match="Invalid account"):
        submit_spec(spec, executor=SlurmExecutor())
    assert calls("sbatch") == 1  # the whole sweep was one submission
    assert registry.list_runs() == []
    assert run_dirs() == []


def test_failed_registry_write_cancels_the_jobs(write_spec, registry, monkeypatch):
    """Submitted but the rows cannot be written: the jobs are cancelled and the dirs removed."""
    spec = write_spec("rowfail")
    plan = trivial_plan(spec, "import time; time.sleep(30)", executor="local")
    cancelled = []
    real_cancel = LocalExecutor.cancel
    monkeypatch.setattr(LocalExecutor, "cancel", lambda self, job: (cancelled.append(job.job_id), real_cancel(self, job)))

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Registry, "add_runs", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        execute_plan(plan, registry)
    assert len(cancelled) == 1
    assert run_dirs() == []


def test_user_mistakes_stop_before_anything_is_written(tmp_path, registry, write_spec):
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "x"\nkind = "eval"\n[rl]\nrollouts_per_promt = 4\n')
    with pytest.raises(UserError):
        submit_spec(bad, executor="local")
    with pytest.raises(UserError, match="unknown executor"):
        submit_spec(write_spec("good"), executor="cloud")
    assert registry.list_runs() == [] and run_dirs() == []


def test_hetjob_plans_need_slurm(write_spec, registry, monkeypatch):
    spec = write_spec("het")
    plan = trivial_plan(spec, executor="local")
    import dataclasses

    plan.runs[0].plan = dataclasses.replace(plan.runs[0].plan, mode="sbatch", script="compiled/job.sbatch")
    with pytest.raises(UserError, match="hetjob") as info:
        execute_plan(plan, registry)
    assert info.value.location.key == "cluster.executor"
    assert registry.list_runs() == [] and run_dirs() == []


def test_local_sweep_beyond_parallelism_is_one_job(write_spec, registry):
    spec = write_spec("lsweep", seeds=[0, 1, 2], par=2)
    records = execute_plan(trivial_plan(spec, "print('ok')", executor="local"), registry)
    assert len({r.job_id for r in records}) == 1 and [r.array_index for r in records] == [0, 1, 2]
    assert registry.get_job(records[0].job_id).mode == "local-sweep"
    final = Poller(registry).wait([r.run_id for r in records], interval=0.3, timeout=60)
    assert [r.state for r in final] == ["COMPLETED"] * 3


def test_resubmit_reads_launch_json_written_before_launchplan(write_spec, registry):
    """launch.json files written by older versions (`"script": ""` for no script) still resubmit."""
    from rcstudio.launch.actions import resubmit_run
    from rcstudio.launch.jobs import PLAN_FILE, load_plan

    spec = write_spec("oldplan")
    (record,) = execute_plan(trivial_plan(spec, "print('again', flush=True)", executor="local"), registry)
    (record,) = Poller(registry).wait([record.run_id], interval=0.2, timeout=60)
    path = paths.runs_root() / "oldplan" / record.run_id / PLAN_FILE
    old = json.loads(path.read_text()) | {"script": ""}
    path.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    assert load_plan(path.parent).script is None
    again = resubmit_run(record, registry)
    assert again.job_id != record.job_id
    (final,) = Poller(registry).wait([record.run_id], interval=0.2, timeout=60)
    assert final.state == "COMPLETED"
    assert (path.parent / "logs" / "stdout.log").read_text().count("again") == 2
