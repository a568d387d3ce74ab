"""`rcstudio tui` in a real terminal: tmux starts it, sends keys, reads the screen, quits."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.slow


SOCKET = f"rcs-test-{uuid.uuid4().hex[:8]}"  # a private tmux server: no shared options or sessions


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args], check=True, capture_output=True,
                          text=True).stdout


def _wait_gone(session: str, text: str, timeout: float = 60.0) -> str:
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text not in screen:
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never went away; screen was:\n{screen}")


def _wait_for(session: str, text: str, timeout: float = 60.0) -> str:
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tui_in_tmux(registry, rcstudio_home):
    session = f"rcs-{uuid.uuid4().hex[:8]}"
    env = {"RCSTUDIO_HOME": str(rcstudio_home), "WANDB_MODE": "offline", "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"env -u COLUMNS -u LINES {exports} {shlex.quote(shutil.which('rcstudio') or 'rcstudio')} tui --refresh 1"
    _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45", command)
    try:
        assert _tmux("display", "-p", "-t", session, "#{window_width}x#{window_height}").strip() == "160x45"
        screen = _wait_for(session, "4/4 runs")
        assert "genrm-additive-alpha0.8" in screen
        assert " alpha " in screen and "RUNNING" in screen  # the swept key is a column
        _tmux("send-keys", "-t", session, "/")
        _wait_for(session, "filter: words")  # the filter box is open
        _tmux("send-keys", "-t", session, "-l", "state:failed")
        _tmux("send-keys", "-t", session, "Enter")
        screen = _wait_for(session, "1/4 runs")
        assert "genrm-additive-alpha0.8" in screen and "genrm-additive-alpha0.5" not in screen
        _tmux("send-keys", "-t", session, "Enter")  # open the run: a training run opens on its chart
        _wait_for(session, "progress: step 39")
        for _ in range(4):  # Tab walks the tabs: chart -> sweep -> logs -> artifacts -> spec
            _tmux("send-keys", "-t", session, "Tab")
            time.sleep(0.3)
        screen = _wait_for(session, "alpha = 0.8")
        assert "Artifacts" in screen
        _tmux("send-keys", "-t", session, "?")
        _wait_for(session, "Key bindings")
        # one Escape at a time: two back to back can read as a single escape sequence
        _tmux("send-keys", "-t", session, "Escape")
        _wait_gone(session, "Key bindings")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, "1/4 runs")
        _tmux("send-keys", "-t", session, "q")
        deadline = time.time() + 20
        while time.time() < deadline:
            alive = subprocess.run(["tmux", "-L", SOCKET, "has-session", "-t", session],
                                   capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "rcstudio tui did not quit on q"
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
