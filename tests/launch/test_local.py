"""submitit's local executor end to end: real background processes, logs in the run dir,
states read back after a 'restart' (no in-process handle), cancel."""

from __future__ import annotations

import time

from rcstudio.launch import executors
from rcstudio.launch.executors import LocalExecutor


def wait_for(executor, refs, states=("COMPLETED", "FAILED"), timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = executor.states(refs)
        if all(got.get(r.scheduler_id) in states for r in refs):
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out: {executor.states(refs)}")


def test_local_runs_complete_and_fail_with_logs(make_submission):
    ok = make_submission("ok", "import os; print('cwd', os.getcwd()); print('hello from job')")
    bad = make_submission("bad", "import sys; print('boom', file=sys.stderr); sys.exit(4)")
    ex = LocalExecutor()
    refs = ex.submit([ok, bad])
    assert [r.executor for r in refs] == ["local", "local"]
    states = wait_for(ex, refs)
    assert states[refs[0].scheduler_id] == "COMPLETED"
    assert states[refs[1].scheduler_id] == "FAILED"
    out, err = ex.log_paths(refs[0])
    assert out == ok.run_dir / "logs" / "stdout.log"
    assert f"cwd {ok.run_dir}" in out.read_text() and "hello from job" in out.read_text()
    assert "boom" in ex.log_paths(refs[1])[1].read_text()


def test_states_after_restart_come_from_submitit_files(make_submission):
    ex = LocalExecutor()
    refs = ex.submit([make_submission("a", "print(1)"), make_submission("b", "raise SystemExit(2)")])
    wait_for(ex, refs)
    executors._LOCAL_JOBS.clear()  # a new process: no Popen handles, only the folder and the pid
    fresh = LocalExecutor()
    assert fresh.states(refs) == {refs[0].scheduler_id: "COMPLETED", refs[1].scheduler_id: "FAILED"}
    assert fresh.attach(refs[0]).result() == 0


def test_cancel_stops_the_command(make_submission, tmp_path):
    marker = tmp_path / "finished"
    sub = make_submission("slow", f"import time; print('started', flush=True); time.sleep(30); open({str(marker)!r}, 'w')")
    ex = LocalExecutor()
    (ref,) = ex.submit([sub])
    deadline = time.monotonic() + 30
    while "started" not in (sub.run_dir / "logs" / "stdout.log").read_text() if (sub.run_dir / "logs" / "stdout.log").exists() else True:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    executors._LOCAL_JOBS.clear()  # cancel from "another process": by pid, like `rcstudio cancel`
    ex2 = LocalExecutor()
    assert ex2.states([ref])[ref.scheduler_id] == "RUNNING"
    ex2.cancel(ref)
    deadline = time.monotonic() + 20
    while ex2.states([ref])[ref.scheduler_id] == "RUNNING":
        assert time.monotonic() < deadline, "the local job survived cancel"
        time.sleep(0.2)
    assert not marker.exists()
    time.sleep(0.5)
    assert not _processes_mentioning(str(marker)), "the command kept running after cancel"


def _processes_mentioning(text: str) -> list[int]:
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
                if stat != "Z" and text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found
