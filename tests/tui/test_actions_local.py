"""Cancel and resubmit from the dashboard against a real local job (submitit's local executor)."""

from __future__ import annotations

import sys
import time

import pytest

from rcstudio.compile.plan import LaunchPlan
from rcstudio.launch.executors import Submission, pick_executor
from rcstudio.launch.jobs import save_plan
from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.launch.submit import job_records
from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.screens import ConfirmScreen
from rcstudio.tui.widgets import RunsTable

pytestmark = pytest.mark.slow


@pytest.fixture
def local_run(tmp_path):
    run_dir = tmp_path / "runs" / "sleepy" / "sleepy-00000001"
    (run_dir / "logs").mkdir(parents=True)
    plan = LaunchPlan(argv=(sys.executable, "-c", "import time; print('working', flush=True); time.sleep(120)"),
                      time="00:05:00", cpus_per_task=1)
    save_plan(run_dir, plan)
    executor = pick_executor("local")
    refs = executor.submit([Submission("sleepy-00000001", run_dir, plan, "sleepy")])
    t = time.time()
    registry = Registry()
    record = RunRecord(
        run_id="sleepy-00000001", name="sleepy", experiment="sleepy", kind="eval", engine="", executor=executor.name,
        state="PENDING", created_at=t, updated_at=t, started_at=None, ended_at=None, run_dir=str(run_dir),
        spec_hash="00000001", job_id=refs[0].job_id, array_index=refs[0].array_index, wandb={"mode": "disabled"},
    )
    jobs = job_records(refs, t)
    registry.add_runs([record], jobs)
    yield registry, record
    current = registry.get(record.run_id)
    if not current.finished:
        from rcstudio.launch.actions import cancel_run

        cancel_run(current, registry)


async def _until(pilot, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached")


async def test_cancel_then_resubmit_a_local_job(local_run):
    registry, record = local_run
    app = RcStudioApp(Backend(registry), refresh_s=0.5)  # the real Poller refreshes states
    async with app.run_test(size=(160, 45)) as pilot:
        await _until(pilot, lambda: app.rows and app.rows[0].record.state == "RUNNING")
        assert "scheduler: ok" in str(app.query_one("#status").render())
        first_job = registry.get(record.run_id).job_id
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await _until(pilot, lambda: registry.get(record.run_id).state == "CANCELLED")
        await _until(pilot, lambda: "CANCELLED" in [str(c) for c in app.query_one(RunsTable).get_row_at(0)])
        await pilot.press("c", "y")  # cancelling an ended run is refused, and says so
        await _until(pilot, lambda: any("already ended" in str(n.message) for n in app._notifications))
        await pilot.press("r", "y")
        await _until(pilot, lambda: registry.get(record.run_id).job_id != first_job)
        await _until(pilot, lambda: registry.get(record.run_id).state in ("PENDING", "RUNNING"))
