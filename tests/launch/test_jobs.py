"""Pure parts of launching: time/memory strings, Slurm state names, sacct/squeue parsing, sbatch
script log paths, and the pickled command carrying no environment values."""

from __future__ import annotations

import pickle

import pytest

from rcstudio.compile.plan import LaunchPlan
from rcstudio.launch.executors import _extra_parameters, script_log_paths
from rcstudio.launch.jobs import (
    CommandTask,
    combine_states,
    load_plan,
    mem_to_gb,
    normalize_slurm_state,
    save_plan,
    time_to_minutes,
)
from rcstudio.launch.slurm import parse_state_lines


@pytest.mark.parametrize("text,minutes", [("04:00:00", 240), ("30", 30), ("1-00:00:00", 1440), ("2-3", 2 * 1440 + 180),
                                           ("10:30", 11), ("00:00:20", 1), ("", 240)])
def test_time_to_minutes(text, minutes):
    assert time_to_minutes(text) == minutes


def test_mem_to_gb():
    assert mem_to_gb("64G") == 64 and mem_to_gb("512M") == 0.5 and mem_to_gb("1T") == 1024
    assert mem_to_gb("") is None
    with pytest.raises(ValueError):
        mem_to_gb("lots")


@pytest.mark.parametrize("raw,state", [("CANCELLED by 0", "CANCELLED"), ("OUT_OF_MEMORY", "FAILED"), ("CG", "RUNNING"),
                                       ("PD", "PENDING"), ("NODE_FAIL", "FAILED"), ("DEADLINE", "TIMEOUT"),
                                       ("REQUEUED", "PENDING"), ("weird", "UNKNOWN"), ("COMPLETED", "COMPLETED")])
def test_normalize_slurm_state(raw, state):
    assert normalize_slurm_state(raw) == state


def test_combine_states_for_hetjob_components():
    assert combine_states(["COMPLETED", "COMPLETED"]) == "COMPLETED"
    assert combine_states(["COMPLETED", "FAILED"]) == "FAILED"
    assert combine_states(["RUNNING", "FAILED"]) == "RUNNING"  # still going: not over yet
    assert combine_states(["PENDING", "RUNNING"]) == "RUNNING"
    assert combine_states(["CANCELLED", "CANCELLED"]) == "CANCELLED"
    assert combine_states([]) == "UNKNOWN"


def test_parse_state_lines_arrays_steps_and_hetjobs():
    lines = ["12_[4-6%2]|PENDING", "12_0|COMPLETED", "12_1|RUNNING", "12_1.batch|RUNNING", "13|FAILED",
             "14+0|COMPLETED", "14+1|FAILED", "15_[0,3]|PENDING", "", "garbage"]
    states = parse_state_lines(lines)
    assert states["12_0"] == "COMPLETED" and states["12_1"] == "RUNNING"
    assert [states[f"12_{i}"] for i in (4, 5, 6)] == ["PENDING"] * 3
    assert states["13"] == "FAILED" and states["14"] == "FAILED" and states["14+0"] == "COMPLETED"
    assert states["15_0"] == states["15_3"] == "PENDING" and "15_1" not in states
    assert "12_1.batch" not in states


def test_script_log_paths(tmp_path):
    script = tmp_path / "job.sbatch"
    script.write_text("#!/bin/bash\n#SBATCH --job-name=x\n#SBATCH -o logs/%x-%j.out\n#SBATCH --error=/abs/e-%j.err\n"
                      "#SBATCH hetjob\n#SBATCH --output=other.out\necho hi\n#SBATCH --output=ignored\n")
    out, err = script_log_paths(script, "42", tmp_path)
    assert out == tmp_path / "logs" / "job-42.out"
    assert str(err) == "/abs/e-42.err"
    script.write_text("#!/bin/bash\n#SBATCH --nodes=1\nsrun true\n")
    out, err = script_log_paths(script, "7", tmp_path)
    assert out == err == tmp_path / "slurm-7.out"


def test_sbatch_extra_flags_become_parameters():
    plan = LaunchPlan(sbatch_extra=("--exclusive", "--constraint=a100 --reservation=r1"), mem="64G")
    assert _extra_parameters(plan) == {"exclusive": True, "constraint": "a100", "reservation": "r1", "mem": "64G"}


def test_plan_roundtrip(tmp_path):
    plan = LaunchPlan(argv=("rcstudio", "run-job", "--run-dir", str(tmp_path)), setup=("module load x",), time="01:00:00")
    save_plan(tmp_path, plan)
    assert load_plan(tmp_path) == plan


def test_pickled_command_carries_no_environment(monkeypatch, tmp_path):
    secret = "sk-test-do-not-leak-123456"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    task = CommandTask(("true",), str(tmp_path), str(tmp_path / "o"), str(tmp_path / "e"))
    blob = pickle.dumps(task)
    assert secret.encode() not in blob
    assert pickle.loads(blob) == task


def test_command_task_forwards_failure(tmp_path):
    task = CommandTask(("bash", "-c", "echo out; echo err >&2; exit 3"), str(tmp_path), str(tmp_path / "logs/o"),
                       str(tmp_path / "logs/e"))
    with pytest.raises(RuntimeError, match="status 3"):
        task()
    assert (tmp_path / "logs/o").read_text() == "out\n" and (tmp_path / "logs/e").read_text() == "err\n"
