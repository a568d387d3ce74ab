"""Against the REAL local cluster: jobs, a sweep as ONE array, hetjobs, sacct states, cancel,
logs, refused submissions, resubmit, re-attach, and the batched poller."""

from __future__ import annotations

import subprocess
import time

import pytest

from launch_helpers import trivial_plan

from rcstudio import paths
from rcstudio.compile.plan import LaunchPlan
from rcstudio.errors import UserError
from rcstudio.launch import Poller, submit_spec
from rcstudio.launch.actions import cancel_run, resubmit_run
from rcstudio.launch.executors import SlurmExecutor, Submission
from rcstudio.launch.submit import execute_plan

pytestmark = pytest.mark.slurm


def sacct(job_id: str) -> dict[str, str]:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", job_id],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if line)


def wait_states(executor, refs, done=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = executor.states(refs)
        if len(got) == len(refs) and all(v in done for v in got.values()):
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting: {executor.states(refs)}")


def wait_sacct(job_id: str, predicate, timeout=60.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sacct(job_id)
        if predicate(got):
            return got
        time.sleep(0.5)
    raise AssertionError(f"sacct never agreed: {sacct(job_id)}")


def test_single_job_runs_and_logs(make_submission):
    sub = make_submission("single", "import os; print('on', os.environ['SLURM_JOB_ID'], 'in', os.getcwd())")
    ex = SlurmExecutor()
    (ref,) = ex.submit([sub])
    assert ref.mode == "single" and ref.array_index is None and ex.sbatch_calls == 1
    assert wait_states(ex, [ref]) == {ref.job_id: "COMPLETED"}
    assert wait_sacct(ref.job_id, lambda s: s.get(ref.job_id) == "COMPLETED")
    text = ex.log_paths(ref)[0].read_text()
    assert f"on {ref.job_id} in {sub.run_dir}" in text
    assert ex.attach(ref).result() == 0  # re-attach through submitit by folder + id


def test_sweep_is_one_array_job(write_spec, registry, slurm_shims):
    calls = slurm_shims()
    spec = write_spec("sweep4", seeds=[0, 1, 2, 3])
    records = execute_plan(trivial_plan(spec, "import os; print('task', os.environ['SLURM_ARRAY_TASK_ID'])",
                                        executor=SlurmExecutor()), registry)
    assert calls("sbatch") == 1
    assert len({r.job_id for r in records}) == 1
    job_id = records[0].job_id
    assert [r.array_index for r in records] == [0, 1, 2, 3]
    assert registry.get_job(job_id).n_tasks == 4 and registry.get_job(job_id).mode == "array"
    final = Poller(registry).wait([r.run_id for r in records], interval=0.5, timeout=90)
    assert [r.state for r in final] == ["COMPLETED"] * 4
    tasks = wait_sacct(job_id, lambda s: sum(v == "COMPLETED" for v in s.values()) == 4)
    assert sorted(tasks) == [f"{job_id}_{i}" for i in range(4)]
    for r in final:
        log = (paths.runs_root() / "sweep4" / r.run_id / "logs" / "stdout.log").read_text()
        assert f"task {r.array_index}" in log


def test_poller_makes_one_batched_call(make_submission, registry, slurm_shims):
    subs = [make_submission(f"p{i}", "print(1)", time=f"00:0{i + 1}:00") for i in range(3)]  # 3 separate jobs
    ex = SlurmExecutor()
    refs = ex.submit(subs)
    assert len({r.job_id for r in refs}) == 3
    from rcstudio.launch.registry import RunRecord
    from rcstudio.launch.submit import job_records

    t = time.time()
    registry.add_runs([RunRecord(s.run_id, s.run_id, "exp", "eval", "", "slurm", "PENDING", t, t, None, None,
                                 str(s.run_dir), s.run_id, {}, [], r.job_id, r.array_index, {})
                       for s, r in zip(subs, refs)], job_records(refs, t))
    wait_states(ex, refs)
    wait_sacct(",".join(r.job_id for r in refs), lambda s: len(s) == 3 and set(s.values()) == {"COMPLETED"})
    calls = slurm_shims()
    changes = Poller(registry).refresh()
    assert set(changes.values()) == {"COMPLETED"} and len(changes) == 3
    assert calls("sacct") == 1 and calls("squeue") == 0


def test_cancel_running_job_and_read_its_log(write_spec, registry):
    spec = write_spec("cancel-me")
    code = "import time; print('working', flush=True); time.sleep(120)"
    (record,) = execute_plan(trivial_plan(spec, code, executor=SlurmExecutor()), registry)
    poller = Poller(registry)
    deadline = time.monotonic() + 60
    while registry.get(record.run_id).state != "RUNNING":
        assert time.monotonic() < deadline, registry.get(record.run_id)
        poller.refresh()
        time.sleep(0.3)
    log = paths.runs_root() / "cancel-me" / record.run_id / "logs" / "stdout.log"
    deadline = time.monotonic() + 30
    while not (log.exists() and "working" in log.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cancelled = cancel_run(registry.get(record.run_id), registry)
    assert cancelled.state == "CANCELLED" and cancelled.ended_at
    states = wait_sacct(record.job_id, lambda s: s.get(record.job_id, "").startswith("CANCELLED"))
    assert states[record.job_id].startswith("CANCELLED")


def test_failing_job_is_failed_in_sacct_and_registry(write_spec, registry):
    spec = write_spec("fails")
    (record,) = execute_plan(trivial_plan(spec, "import sys; print('bad input', file=sys.stderr); sys.exit(3)",
                                          executor=SlurmExecutor()), registry)
    (final,) = Poller(registry).wait([record.run_id], interval=0.5, timeout=90)
    assert final.state == "FAILED"
    assert wait_sacct(record.job_id, lambda s: s.get(record.job_id) == "FAILED")
    err = (paths.runs_root() / "fails" / record.run_id / "logs" / "stderr.log").read_text()
    assert "bad input" in err


def test_refused_submission_leaves_no_row(write_spec, registry):
    """An unknown partition is refused before sbatch (the cluster's partitions from sinfo, in the
    hint): a user error, no row, no run directory."""
    spec = write_spec("nopart", seeds=[0, 1], cluster_extra='partition = "no-such-partition"')
    with pytest.raises(UserError, match="no-such-partition") as info:
        submit_spec(spec, executor="slurm")
    assert info.value.location.key == "cluster.partition" and "partition debug" in info.value.hint
    assert registry.list_runs() == []
    assert not (paths.runs_root() / "nopart").exists()


def test_hetjob_script_through_sbatch(make_submission, registry):
    sub = make_submission("het", "", mode="sbatch")
    script = sub.run_dir / "job.sbatch"
    script.write_text("#!/bin/bash\n#SBATCH --job-name=het\n#SBATCH --output=logs/het-%j.out\n#SBATCH --time=5\n"
                      "#SBATCH hetjob\n#SBATCH --time=5\n"
                      "srun --het-group=0 bash -c 'echo reward side on $(hostname)'\n"
                      "srun --het-group=1 bash -c 'echo actor side'\n")
    sub = Submission(sub.run_id, sub.run_dir, LaunchPlan(mode="sbatch", script=str(script)), "het")
    ex = SlurmExecutor()
    (ref,) = ex.submit([sub])
    assert ref.mode == "hetjob"
    assert wait_states(ex, [ref]) == {ref.job_id: "COMPLETED"}
    components = wait_sacct(ref.job_id, lambda s: len(s) == 2 and set(s.values()) == {"COMPLETED"})
    assert sorted(components) == [f"{ref.job_id}+0", f"{ref.job_id}+1"]
    text = ex.log_paths(ref)[0].read_text()
    assert "reward side on" in text and "actor side" in text


def test_resubmit_finished_run(write_spec, registry):
    spec = write_spec("again")
    (record,) = execute_plan(trivial_plan(spec, "print('attempt')", executor=SlurmExecutor()), registry)
    Poller(registry).wait([record.run_id], interval=0.5, timeout=90)
    again = resubmit_run(registry.get(record.run_id), registry)
    assert again.run_id == record.run_id and again.job_id != record.job_id and again.state == "PENDING"
    (final,) = Poller(registry).wait([record.run_id], interval=0.5, timeout=90)
    assert final.state == "COMPLETED"
    log = (paths.runs_root() / "again" / record.run_id / "logs" / "stdout.log").read_text()
    assert log.count("attempt") == 2 and f"resubmitted as job {again.job_id}" in log


def test_shell_hostile_paths_are_quoted(write_spec, registry, tmp_path):
    """A runs_root with spaces and $(...) reaches sbatch scripts only quoted: nothing is executed."""
    root = tmp_path / "runs $(touch PWNED) x"
    spec = write_spec("quoted", cluster_extra=f'runs_root = "{root}"')
    (record,) = execute_plan(trivial_plan(spec, "print('quoted ok')", executor=SlurmExecutor()), registry)
    (final,) = Poller(registry).wait([record.run_id], interval=0.5, timeout=90)
    assert final.state == "COMPLETED"
    assert "quoted ok" in (root / "quoted" / record.run_id / "logs" / "stdout.log").read_text()
    assert not list(tmp_path.rglob("PWNED")) and not (root / "quoted" / "PWNED").exists()


def test_secrets_reach_the_job_but_no_file(make_submission, monkeypatch, registry):
    """The job reads its key from the environment; neither the pickle, the sbatch script, the
    logs nor the registry hold its value."""
    secret = "sk-rcstudio-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    sub = make_submission("secret", "import os, hashlib; k = os.environ['OPENAI_API_KEY']; "
                                    "print('key length', len(k))")
    ex = SlurmExecutor()
    (ref,) = ex.submit([sub])
    assert wait_states(ex, [ref]) == {ref.job_id: "COMPLETED"}
    assert f"key length {len(secret)}" in ex.log_paths(ref)[0].read_text()
    leaks = [p for p in sub.run_dir.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    leaks += [p for p in registry.path.parent.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []
