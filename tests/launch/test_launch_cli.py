"""The run commands as a user types them (real `rcstudio` processes): exit codes, --json, and
ls/status/logs/cancel/resubmit/export on registered local runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from launch_helpers import trivial_plan

from rcstudio.launch import Poller
from rcstudio.launch.submit import execute_plan


def rcs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def test_dry_run_json_and_no_rows(write_spec, registry):
    spec = write_spec("clidry", seeds=[0, 1])
    proc = rcs("submit", str(spec), "--dry-run", "--executor", "local", "--json", "--set", "eval.bootstrap=10")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dry_run"] is True and doc["executor"] == "local" and len(doc["runs"]) == 2
    assert doc["runs"][0]["launch"].startswith(f"{sys.executable} -m rcstudio run-job --run-dir ")
    assert registry.list_runs() == []
    assert json.loads(rcs("ls", "--json").stdout) == {"runs": []}


def test_user_errors_exit_2_without_traceback(tmp_path, write_spec):
    for args in (("submit", str(tmp_path / "missing.toml")), ("status", "nope"), ("logs", "nope"),
                 ("submit", str(write_spec("x")), "--executor", "cloud"), ("ls", "--state", "DONE")):
        proc = rcs(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_submit_wait_reports_failed_runs(write_spec, tmp_path):
    spec = write_spec("waitfail", cluster_extra="")
    text = spec.read_text().replace("[eval]", f'[data]\neval = ["hs3-atomic={tmp_path}/absent.jsonl"]\n\n[eval]')
    spec.write_text(text)
    proc = rcs("submit", str(spec), "--executor", "local", "--wait", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["state"] for r in doc["runs"]] == ["FAILED"]
    assert "did not complete" in proc.stderr


@pytest.mark.slow
def test_run_commands_on_registered_runs(write_spec, registry, tmp_path):
    spec = write_spec("cli", seeds=[0, 1])
    done, other = execute_plan(trivial_plan(spec, "print('line', flush=True)", executor="local"), registry)
    Poller(registry).wait([done.run_id, other.run_id], interval=0.2, timeout=60)

    listing = json.loads(rcs("ls", "--json", "--experiment", "cli").stdout)["runs"]
    assert {r["run_id"] for r in listing} == {done.run_id, other.run_id}
    assert {r["state"] for r in listing} == {"COMPLETED"}
    assert json.loads(rcs("ls", "--json", "--tag", "nope").stdout) == {"runs": []}

    status = json.loads(rcs("status", done.run_id[:-2], "--json").stdout)
    assert status["run"]["run_id"] == done.run_id and status["logs"]["stdout"].endswith("logs/stdout.log")
    printed = rcs("logs", done.run_id).stdout
    assert "line\n" in printed
    assert rcs("logs", done.run_id, "--follow").stdout == printed  # finished: prints and returns

    proc = rcs("cancel", done.run_id)
    assert proc.returncode == 2 and "already ended" in proc.stderr

    again = json.loads(rcs("resubmit", done.run_id, "--json").stdout)["run"]
    assert again["state"] == "PENDING" and again["job_id"] != done.job_id
    (final,) = Poller(registry).wait([done.run_id], interval=0.2, timeout=60)
    assert final.state == "COMPLETED"

    out = tmp_path / "bundle"
    proc = rcs("export", done.run_id, str(out))
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert {"spec.resolved.toml", "compiled", "launch.json", "submission.json", "versions.json", "README.md",
            "run.json"} <= names
    versions = json.loads((out / "versions.json").read_text())
    assert versions["submitit"] and versions["python"]
    assert "rcstudio submit spec.resolved.toml" in (out / "README.md").read_text()
    assert rcs("export", done.run_id, str(out)).returncode == 2  # not empty any more
    proc = rcs("export", done.run_id, str(out / "README.md"))  # a file, not a directory
    assert proc.returncode == 2 and "is a file" in proc.stderr and "Traceback" not in proc.stderr


def test_cancel_a_running_local_run(write_spec, registry):
    spec = write_spec("clicancel")
    (run,) = execute_plan(trivial_plan(spec, "import time; print('up', flush=True); time.sleep(60)",
                                       executor="local"), registry)
    deadline = time.monotonic() + 30
    while "up" not in rcs("logs", run.run_id).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    proc = rcs("cancel", run.run_id, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"cancelled": [run.run_id]}
    assert registry.get(run.run_id).state == "CANCELLED"
