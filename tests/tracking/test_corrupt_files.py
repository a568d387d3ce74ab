"""Corrupt state files end in clear messages naming the file, never a traceback: the registry
(backup/repair hint), the LLM reply cache (moved aside, rebuilt) and `.wandb` files (read up to the
last good record, the offset named); the dashboard's status line shows the problem."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from rcstudio import paths
from rcstudio.errors import UserError
from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.clients.llm import ResponseCache
from rcstudio.tracking import wandb_format as fmt
from rcstudio.tracking.offline import OfflineRun, find_wandb_files, read_run, wait_finished
from rcstudio.tracking.wandb_log import init_run, wandb_link
from rcstudio.spec.models import Spec

SPEC = Spec.model_validate({"experiment": {"name": "corrupt", "kind": "eval"}, "tracking": {"mode": "offline", "project": "p"}})


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rcstudio", *args], capture_output=True, text=True, env=os.environ,
                          timeout=120)


@pytest.mark.parametrize("damage", ["garbage", "directory", "truncated"])
def test_damaged_registry_is_a_clear_error_with_a_repair_hint(damage):
    reg = Registry()
    reg.add_runs([RunRecord("r-1", "r", "x", "eval", "", "local", "COMPLETED", 1.0, 1.0, None, None, "/tmp/r", "h")])
    path = paths.registry_path()
    for extra in ("-wal", "-shm"):
        (path.parent / (path.name + extra)).unlink(missing_ok=True)
    if damage == "garbage":
        path.write_bytes(b"this is not sqlite at all" * 400)
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\xff" * 50 + data[150:])
    proc = _cli("ls")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert str(path) in proc.stderr and "hint:" in proc.stderr and ".recover" in proc.stderr
    if damage == "directory":
        assert "is a directory" in proc.stderr


def test_corrupt_llm_cache_is_moved_aside_and_rebuilt(tmp_path, caplog):
    path = tmp_path / "responses.sqlite"
    path.write_bytes(b"\x00garbage" * 1000)
    cache = ResponseCache(path)
    assert cache.moved_aside is not None and cache.moved_aside.read_bytes().startswith(b"\x00garbage")
    assert str(path) in caplog.text and "moved it to" in caplog.text
    cache.put("k", "m", "reply")
    assert cache.get("k") == "reply" and len(cache) == 1
    cache.close()
    with sqlite3.connect(path) as db:  # the rebuilt file is a healthy cache
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1


@pytest.fixture(scope="module")
def wandb_file(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("wb") / "run"
    run = init_run(SPEC, run_dir, "corrupt-0001", "eval")
    for i in range(400):
        run.log({"reward/total": float(i), "pad": "x" * 200})
    run.finish()
    wait_finished(run_dir, "corrupt-0001")
    (path,) = find_wandb_files(run_dir)
    return path


def test_corrupt_wandb_file_reads_up_to_the_last_good_record(wandb_file, tmp_path):
    data = bytearray(wandb_file.read_bytes())
    good = OfflineRun(wandb_file)
    good.refresh()
    assert good.problem is None and len(good.history(["reward/total"])["reward/total"]) == 400
    cut = len(data) // 2
    data[cut] ^= 0xFF
    bad = tmp_path / "run-bad.wandb"
    bad.write_bytes(bytes(data))
    run = read_run(bad)  # no exception: what precedes the damage is kept
    assert run.problem and str(bad) in run.problem and "CRC mismatch" in run.problem
    assert "read up to the last good record (offset" in run.problem
    n = len(run.history(["reward/total"])["reward/total"])
    assert 0 < n < 400
    assert run.refresh() == 0  # a follower does not retry a damaged file

    (tmp_path / "dir").mkdir()
    bad_dir = tmp_path / "dir" / "run-x.wandb"
    bad_dir.mkdir()  # a directory where the file should be
    assert OfflineRun(bad_dir).refresh() == 0


def test_dashboard_status_names_the_corrupt_wandb_file(wandb_file, tmp_path):
    from rcstudio.tui.backend import Backend

    run_dir = tmp_path / "corrupt" / "corrupt-0001"
    dest = run_dir / "wandb" / wandb_file.parent.name
    dest.mkdir(parents=True)
    data = bytearray(wandb_file.read_bytes())
    data[fmt.FILE_HEADER.size + 40] ^= 0xFF
    (dest / wandb_file.name).write_bytes(bytes(data))
    reg = Registry()
    reg.add_runs([RunRecord("corrupt-0001", "c", "corrupt", "eval", "", "local", "COMPLETED", 1.0, 1.0, None, None,
                            str(run_dir), "h", wandb=wandb_link(SPEC, run_dir, "corrupt-0001"))])
    snap = Backend(reg, poll=lambda: None).snapshot()
    assert snap.health.parts["wandb"] == f"corrupt file {wandb_file.name}" and snap.health.degraded
    assert snap.rows[0].metrics["_wandb_problem"].startswith(str(dest / wandb_file.name))

    paths.registry_path().write_bytes(b"not a database" * 300)  # the registry breaks under a running TUI
    for extra in ("-wal", "-shm"):
        (paths.registry_path().parent / (paths.registry_path().name + extra)).unlink(missing_ok=True)
    snap = Backend(reg, poll=lambda: None).snapshot()
    assert snap.health.parts["registry"].startswith("unreadable: the run registry is damaged")


def test_compare_names_the_corrupt_file_instead_of_no_history(wandb_file, tmp_path):
    run_dir = tmp_path / "corrupt" / "corrupt-0002"
    dest = run_dir / "wandb" / wandb_file.parent.name
    dest.mkdir(parents=True)
    data = bytearray(wandb_file.read_bytes())
    data[fmt.FILE_HEADER.size + 3] ^= 0xFF  # the first record: not even the run's id is readable
    (dest / "run-corrupt-0002.wandb").write_bytes(bytes(data))
    Registry().add_runs([RunRecord("corrupt-0002", "c2", "corrupt", "eval", "", "local", "COMPLETED", 1.0, 1.0, None,
                                   None, str(run_dir), "h2", wandb=wandb_link(SPEC, run_dir, "corrupt-0002"))])
    with pytest.raises(UserError, match="corrupt W&B file"):
        from rcstudio.tracking.compare import collect

        collect(["corrupt-0002"], ["reward/total"], registry=Registry())  # as `rcstudio compare` passes it
