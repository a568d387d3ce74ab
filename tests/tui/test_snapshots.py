"""SVG snapshots of the main screens (fixed clock, ids, terminal size; health thresholds pinned)."""

from __future__ import annotations

import pytest

from rcstudio.tui import backend as backend_mod
from rcstudio.tui import screens
from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.widgets import MetricChart

SIZE = (160, 45)


@pytest.fixture
def app(registry, fixed_now, monkeypatch):
    monkeypatch.setattr(backend_mod, "SLOW_S", 1e9)  # a busy CI box must not turn "ok" into "slow"
    monkeypatch.setattr(screens, "wandb_url", lambda rec: "offline: <run_dir>/wandb")
    return RcStudioApp(Backend(registry, poll=lambda: None), refresh_s=0, clock=lambda: fixed_now)


async def _wait_loaded(pilot):
    app = pilot.app
    for _ in range(400):
        if app.loaded:
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def _wait_chart(pilot, count):
    for _ in range(400):
        charts = pilot.app.screen.query(MetricChart)
        if charts and all(len(c._series) >= count for c in charts):
            break
        await pilot.pause(0.02)
    await pilot.pause(0.1)


def test_runs_table(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_wait_loaded)


def test_help(snap_compare, app):
    async def before(pilot):
        await _wait_loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_run_view_diff(snap_compare, app):
    async def before(pilot):
        await _wait_loaded(pilot)
        await pilot.press("down", "enter")
        await _wait_chart(pilot, 3)
        for _ in range(200):
            if pilot.app.screen.details_loaded:
                break
            await pilot.pause(0.02)
        pilot.app.screen.query_one("TabbedContent").active = "tab-diff"
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_compare_chart(snap_compare, app):
    async def before(pilot):
        await _wait_loaded(pilot)
        for _ in range(4):
            await pilot.press("space", "down")
        await pilot.press("v")
        await _wait_chart(pilot, 4)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
