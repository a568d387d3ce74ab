"""Limits with clear errors (extends depth, spec size, override size, sweep size, names), large
sweeps need --yes, and control characters in keys or values never reach the terminal raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from rcstudio import paths
from rcstudio.errors import UserError
from rcstudio.spec import expand, load_spec
from rcstudio.spec.load import MAX_EXTENDS_DEPTH, MAX_SPEC_BYTES

BASE = '[experiment]\nname = "lim"\nkind = "eval"\n[judge]\nendpoint = "http://127.0.0.1:9/v1"\n'


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True,
                          env=os.environ, cwd=cwd, stdin=subprocess.DEVNULL, timeout=120)


def test_extends_chain_depth_is_bounded(tmp_path):
    (tmp_path / "s0.toml").write_text(BASE)
    for i in range(1, 1000):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i - 1}.toml"\n')
    started = time.monotonic()
    with pytest.raises(UserError, match=f"deeper than {MAX_EXTENDS_DEPTH}") as info:
        load_spec(tmp_path / "s999.toml")
    assert time.monotonic() - started < 10 and info.value.location.key == "extends"
    assert load_spec(tmp_path / f"s{MAX_EXTENDS_DEPTH - 1}.toml").experiment.name == "lim"


def test_spec_and_override_sizes_are_bounded(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text(BASE + "# " + "x" * MAX_SPEC_BYTES + "\n")
    with pytest.raises(UserError, match="specs hold at most") as info:
        load_spec(big)
    assert info.value.location.file == big
    ok = tmp_path / "ok.toml"
    ok.write_text(BASE)
    started = time.monotonic()
    with pytest.raises(UserError, match="override is"):
        load_spec(ok, ["experiment.name=" + "n" * 10_000_000])
    with pytest.raises(UserError, match="at most 64") as info:
        load_spec(ok, ["experiment.name=" + "n" * 300])
    assert info.value.location.key == "experiment.name"
    assert time.monotonic() - started < 10


def test_sweep_size_is_bounded_before_expanding(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text(BASE + '[sweep]\ngrid = { "eval.seed" = %s, "eval.bootstrap" = %s }\n'
                    % (list(range(1000)), list(range(1000))))
    started = time.monotonic()
    with pytest.raises(UserError, match="expands into 1000000 runs; at most 10000") as info:
        expand(load_spec(spec))
    assert time.monotonic() - started < 10 and info.value.location.key == "sweep"


def test_large_sweep_needs_yes_and_refuses_without_a_terminal(tmp_path):
    spec = tmp_path / "wide.toml"
    spec.write_text(BASE + '[cluster]\nexecutor = "local"\ngpus_per_node = 0\n'
                    '[sweep]\ngrid = { "eval.seed" = %s }\n' % list(range(150)))
    proc = _cli("submit", str(spec))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "submits 150 runs, more than 100; nothing was written" in proc.stderr and "--yes" in proc.stderr
    assert not paths.runs_root().exists()
    listed = _cli("submit", str(spec), "--dry-run", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["runs"]) == 150


@pytest.mark.parametrize("where", ["file", "set"])
def test_control_characters_are_escaped_in_errors(tmp_path, where):
    osc = "\x1b]0;PWNED\x07"
    spec = tmp_path / "osc.toml"
    if where == "file":
        spec.write_text(BASE + f'[rl]\n"{osc}" = 1\n'.replace("\x1b", "\\u001b").replace("\x07", "\\u0007"))
        proc = _cli("validate", str(spec))
    else:
        spec.write_text(BASE)
        proc = _cli("validate", str(spec), "--set", f"experiment.name=a{osc}\r\x9b")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr and "\x9b" not in proc.stderr
    assert "\\x1b]0;PWNED\\x07" in proc.stderr
