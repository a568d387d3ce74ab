"""SVG snapshots of every screen at 80x24 and 160x45 (fixed clock, ids; health thresholds pinned):
the runs list (flat and grouped), a training run, an eval run's results, the sweep view, logs,
compare, the metric picker and help."""

from __future__ import annotations

import pytest
from conftest import add_eval_run

from rcstudio.tui import backend as backend_mod
from rcstudio.tui import screens
from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.widgets import MetricChart

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]


@pytest.fixture
def app(registry, metric_runs, fixed_now, monkeypatch):
    monkeypatch.setattr(backend_mod, "SLOW_S", 1e9)  # a busy CI box must not turn "ok" into "slow"
    monkeypatch.setattr(screens, "wandb_url", lambda rec: "offline: <run_dir>/wandb")
    add_eval_run(registry, metric_runs)
    return RcStudioApp(Backend(registry, poll=lambda: None), refresh_s=0, clock=lambda: fixed_now)


async def _until(pilot, check, tries: int = 400) -> None:
    for _ in range(tries):
        if check():
            break
        await pilot.pause(0.02)
    await pilot.pause(0.1)


async def _loaded(pilot):
    await _until(pilot, lambda: pilot.app.loaded)


async def _open(pilot, name: str):
    await _loaded(pilot)
    table = pilot.app.screen.query_one("RunsTable")
    for i in range(table.row_count):
        if table.cell(i, "name") == name:
            table.move_cursor(row=i)
    await pilot.press("enter")
    screen = pilot.app.screen
    await _until(pilot, lambda: screen.details_loaded and screen.results_loaded)
    await _until(pilot, lambda: all(c._series or c.empty_text != "no data yet" for c in screen.query(MetricChart)), 100)


@pytest.mark.parametrize("size", SIZES)
def test_runs_list(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_runs_grouped_by_experiment(snap_compare, app, size):
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press("e")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_help_lists_each_key_once(snap_compare, app, size):
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_eval_run_results(snap_compare, app, size):
    async def before(pilot):
        await _open(pilot, "quickstart")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_training_run_chart_and_tiles(snap_compare, app, size):
    async def before(pilot):
        await _open(pilot, "genrm-additive-alpha0")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_sweep_view(snap_compare, app, size):
    async def before(pilot):
        await _open(pilot, "genrm-additive-alpha0.5")
        await pilot.press("tab")  # chart -> sweep
        chart = pilot.app.screen.query_one("#sweep-chart", MetricChart)
        await _until(pilot, lambda: chart._series)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_artifacts_tab(snap_compare, app, size):
    async def before(pilot):
        await _open(pilot, "quickstart")
        pilot.app.screen.query_one("TabbedContent").active = "tab-artifacts"
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_eval_and_training_runs(snap_compare, app, size):
    async def before(pilot):
        await _loaded(pilot)
        for _ in range(5):
            await pilot.press("space", "down")
        await pilot.press("v")
        await _until(pilot, lambda: all(len(c._series) >= 4 for c in pilot.app.screen.query(MetricChart)))

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_metric_picker(snap_compare, app, size):
    async def before(pilot):
        await _loaded(pilot)
        await pilot.press("space", "down", "space", "v")
        await _until(pilot, lambda: pilot.app.screen.available)
        await pilot.press("m")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=before)
