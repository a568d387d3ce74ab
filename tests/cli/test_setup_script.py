"""scripts/setup.sh's torch choice, with a stand-in Python that records pip calls (nothing is
installed): the CPU wheel index first, PyPI when that index is unreachable, nothing when torch is
already importable, the plain wheel when CUDA is asked for."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

FAKE = """#!/usr/bin/env bash
echo "$*" >> "{log}"
if [ "$1" = "-c" ]; then exit {torch_rc}; fi
case "$*" in *download.pytorch.org*) exit {index_rc};; esac
exit 0
"""


def _run(tmp_path: Path, repo_root: Path, torch_rc: int, index_rc: int, **env: str) -> list[str]:
    log = tmp_path / "calls.log"
    fake = tmp_path / "python"
    fake.write_text(FAKE.format(log=log, torch_rc=torch_rc, index_rc=index_rc))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    done = subprocess.run(["bash", str(repo_root / "scripts" / "setup.sh")], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": str(fake), "RCSTUDIO_SKIP_VERL": "1", **env}, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in log.read_text().splitlines() if "pip install" in line]


@pytest.mark.parametrize(("torch_rc", "index_rc", "env", "expected"), [
    (1, 0, {}, ["torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"]),
    (1, 1, {}, ["torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu", "-q torch==2.13.0"]),
    (0, 0, {}, []),
    (1, 0, {"RCSTUDIO_TORCH_CUDA": "1"}, ["-q torch==2.13.0"]),
])
def test_setup_picks_the_torch_build(tmp_path, repo_root, torch_rc, index_rc, env, expected):
    calls = _run(tmp_path, repo_root, torch_rc, index_rc, **env)
    torch_calls = [c for c in calls if "torch" in c]
    assert len(torch_calls) == len(expected)
    for call, want in zip(torch_calls, expected):
        assert call.endswith(want)
    assert any(c.endswith('-e .[all,dev]') for c in calls)  # then rcstudio itself
    assert calls.index(next(c for c in calls if c.endswith('-e .[all,dev]'))) > max(
        (i for i, c in enumerate(calls) if 'torch' in c), default=-1)  # after torch
