"""The quickstart as a new user meets it: submit the real eval job, read its log with `rcstudio
logs`, then open the completed run in `rcstudio tui` (tmux) and find the evidence judge's RC."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_tmux import SOCKET, _tmux, _wait_for

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _rcstudio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_quickstart_run_in_logs_and_tui(rcstudio_home):
    proc = _rcstudio("submit", "specs/quickstart.toml", "--executor", "local", "--wait")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    logs = _rcstudio("logs", "quickstart")  # a unique run name resolves
    assert logs.returncode == 0, logs.stderr
    assert "step eval done in" in logs.stdout  # the line the job wrote to logs/run-job.log

    session = f"rcs-{uuid.uuid4().hex[:8]}"
    env = {"RCSTUDIO_HOME": str(rcstudio_home), "WANDB_MODE": "offline", "TERM": "xterm-256color",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"env -u COLUMNS -u LINES {exports} {shlex.quote(sys.executable)} -m rcstudio tui --refresh 2"
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        screen = _wait_for(session, "1/1 runs")
        assert "COMPLETED" in screen  # the state column survives 80 columns
        _tmux("send-keys", "-t", session, "Enter")
        screen = _wait_for(session, "evidence-judge")
        _wait_for(session, "0.858")  # RC of the evidence judge, in the per-judge results table
        screen = _wait_for(session, "[0.82, 0.89]")
        assert "surface-judge" in screen and "0.221" in screen
        _tmux("send-keys", "-t", session, "Enter")  # Enter on a run screen opens nothing more
        _tmux("send-keys", "-t", session, "Tab")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, "1/1 runs")
        _tmux("send-keys", "-t", session, "q")
        deadline = time.time() + 20
        while time.time() < deadline:
            if subprocess.run(["tmux", "-L", SOCKET, "has-session", "-t", session], capture_output=True).returncode:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("rcstudio tui did not quit on q (a second run screen was stacked?)")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
