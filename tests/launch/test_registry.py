"""Registry: atomic inserts, id lookup by prefix, filters, state stamps, WAL, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from rcstudio.errors import UserError
from rcstudio.launch.registry import JobRecord, Registry, RunRecord


def rec(run_id: str, experiment: str = "exp", state: str = "PENDING", tags=("a",), **kw) -> RunRecord:
    t = kw.pop("created_at", time.time())
    return RunRecord(run_id=run_id, name=kw.pop("name", run_id), experiment=experiment, kind="eval", engine="",
                     executor="local", state=state, created_at=t, updated_at=t, started_at=None, ended_at=None,
                     run_dir=f"/tmp/{run_id}", spec_hash=kw.pop("spec_hash", run_id + "-hash"),
                     point=kw.pop("point", {"reward.alpha": 0.5}), tags=list(tags), job_id=kw.pop("job_id", "7"),
                     array_index=kw.pop("array_index", None), wandb={"mode": "offline", "id": run_id})


def test_roundtrip_keeps_every_field(registry):
    r = rec("exp-0123abcd", point={"reward.alpha": 0.8, "rl.lr": 1e-6}, array_index=3)
    registry.add_runs([r], JobRecord("7", "slurm", "array", "/f/%j", time.time(), 4))
    got = registry.get("exp-0123abcd")
    assert got == r
    assert got.scheduler_id == "7_3"
    assert registry.get_job("7").n_tasks == 4


def test_unique_prefix_and_name_lookup(registry):
    registry.add_runs([rec("exp-aaaa1111", name="exp-alpha0.5"), rec("exp-aaab2222"), rec("other-ffff0000")])
    assert registry.get("exp-aaaa").run_id == "exp-aaaa1111"
    assert registry.get("exp-alpha0.5").run_id == "exp-aaaa1111"
    with pytest.raises(UserError, match="ambiguous.*exp-aaaa1111.*exp-aaab2222"):
        registry.get("exp-aaa")
    with pytest.raises(UserError, match="no run matches 'nope'"):
        registry.get("nope")
    # LIKE wildcards in the argument are literal, not patterns
    with pytest.raises(UserError, match="no run matches"):
        registry.get("exp%")


def test_add_runs_is_all_or_nothing(registry):
    registry.add_runs([rec("exp-1")])
    with pytest.raises(UserError, match="exp-1 is already registered"):
        registry.add_runs([rec("exp-2"), rec("exp-1")], JobRecord("99", "slurm", "array", "", time.time()))
    assert [r.run_id for r in registry.list_runs()] == ["exp-1"]
    assert registry.get_job("99") is None


def test_filters_and_order(registry):
    t = time.time()
    registry.add_runs([
        rec("a-1", "a", "RUNNING", ("paper",), created_at=t),
        rec("a-2", "a", "COMPLETED", ("x",), created_at=t + 1),
        rec("b-1", "b", "FAILED", ("paper", "x"), created_at=t + 2),
    ])
    assert [r.run_id for r in registry.list_runs()] == ["b-1", "a-2", "a-1"]
    assert [r.run_id for r in registry.list_runs(experiment="a")] == ["a-2", "a-1"]
    assert [r.run_id for r in registry.list_runs(state="failed")] == ["b-1"]
    assert [r.run_id for r in registry.list_runs(tag="paper")] == ["b-1", "a-1"]
    assert [r.run_id for r in registry.list_runs(limit=1)] == ["b-1"]
    assert [r.run_id for r in registry.unfinished()] == ["a-1"]


def test_update_states_stamps_times_once(registry):
    registry.add_runs([rec("r")])
    assert registry.update_states({"r": "RUNNING"}) == 1
    started = registry.get("r").started_at
    assert started is not None and registry.get("r").ended_at is None
    assert registry.update_states({"r": "RUNNING"}) == 0  # unchanged: no write
    time.sleep(0.01)
    registry.update_states({"r": "COMPLETED"})
    done = registry.get("r")
    assert done.started_at == started and done.ended_at >= started and done.finished
    with pytest.raises(ValueError):
        registry.update_states({"r": "DONE"})


def test_delete_drops_orphan_job(registry):
    registry.add_runs([rec("r1", job_id="5"), rec("r2", job_id="5")], JobRecord("5", "slurm", "array", "", 0.0, 2))
    registry.delete("r1")
    assert registry.get_job("5") is not None
    registry.delete("r2")
    assert registry.get_job("5") is None and registry.list_runs() == []


def test_wal_mode_and_default_path(rcstudio_home):
    registry = Registry()
    assert registry.path == rcstudio_home / "registry.sqlite"
    conn = sqlite3.connect(registry.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_and_reader(registry):
    """Many threads inserting while another lists: no 'database is locked', nothing lost."""
    errors = []

    def writer(k: int) -> None:
        try:
            for i in range(10):
                registry.add_runs([rec(f"w{k}-{i}")])
                registry.update_states({f"w{k}-{i}": "RUNNING"})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        for _ in range(20):
            registry.list_runs()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)] + [threading.Thread(target=reader)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(registry.list_runs(state="RUNNING")) == 40


def test_no_secret_columns(registry):
    """The schema has no place for credentials: W&B is a reference (mode/entity/project/id/group/dir)."""
    conn = sqlite3.connect(registry.path)
    columns = {row[1] for table in ("runs", "jobs") for row in conn.execute(f"PRAGMA table_info({table})")}
    assert not {c for c in columns if any(w in c.lower() for w in ("key", "token", "secret", "password"))}


def test_existing_finds_by_id_or_hash_in_one_query(registry):
    registry.add_runs([rec("a-1", spec_hash="h1"), rec("a-2", spec_hash="h2"), rec("a-3", spec_hash="h3")])
    found = registry.existing(["a-1", "zzz"], ["h3", "nope"])
    assert sorted(r.run_id for r in found) == ["a-1", "a-3"]
    assert registry.existing([], []) == []
    assert set(registry.jobs(["7", "missing"])) == set()  # rows carry job 7, but no job row was added
