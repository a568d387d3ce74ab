"""Pilot tests of navigation and the run screen: Tab walks the tabs, Enter never stacks a second
run screen, each screen's footer and help come from its own bindings, the eval results table and
scatter, the Logs tab shows the job's log, screenshots land under RCSTUDIO_HOME, compare lists the
runs that lack a metric."""

from __future__ import annotations

from conftest import add_eval_run
from textual.widgets import DataTable, Log, Static, TabbedContent

from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.screens import CompareScreen, HelpScreen, RunScreen
from rcstudio.tui.widgets import MetricChart, RunsTable, ScatterPlot

T0 = 1_790_000_000.0


async def _until(pilot, check, tries: int = 400) -> None:
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


async def _open(app, pilot, name: str) -> RunScreen:
    await _until(pilot, lambda: app.loaded)
    table = app.query_one(RunsTable)
    row = next(i for i in range(table.row_count) if table.cell(i, "name") == name)
    table.move_cursor(row=row)
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, RunScreen)
    await _until(pilot, lambda: screen.details_loaded and screen.results_loaded)
    return screen


def _app(registry):
    return RcStudioApp(Backend(registry, poll=lambda: None), refresh_s=0, clock=lambda: T0 + 200)


async def test_eval_run_results_logs_and_keys(registry, metric_runs):
    add_eval_run(registry, metric_runs)
    app = _app(registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, "quickstart")
        assert screen.query_one(TabbedContent).active == "tab-results"  # an eval run opens on its results
        judges = screen.query_one("#judges", DataTable)
        evidence = [str(c) for c in judges.get_row("evidence-judge")]
        assert evidence == ["evidence-judge", "40", "0.775", "0.858", "[0.82, 0.89]", "0.853", "0.863", "0.666"]
        scatter = screen.query_one(ScatterPlot)
        assert [p[0] for p in scatter.points] == ["evidence-judge", "surface-judge"]
        assert scatter.points[0][1:] == (0.775, 0.857708)

        await pilot.press("enter")  # Enter on a run screen opens nothing more
        assert len(app.screen_stack) == 2 and app.screen is screen
        await pilot.press("tab")
        assert screen.query_one(TabbedContent).active == "tab-chart"
        await pilot.press("shift+tab", "shift+tab")
        assert screen.query_one(TabbedContent).active == "tab-jobs"  # wraps around
        for _ in range(4):
            await pilot.press("tab")
        assert screen.query_one(TabbedContent).active == "tab-logs"
        log = screen.query_one("#log", Log)
        await _until(pilot, lambda: any("step eval done" in line for line in log.lines))

        footer_keys = {k for k, ab in screen.active_bindings.items() if ab.enabled and ab.binding.show}
        assert {"tab", "d", "c"} <= footer_keys  # what the footer shows: this screen's table
        assert "v" not in footer_keys and "slash" not in footer_keys and "e" not in footer_keys  # list-only keys off
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).render())
        keys = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
        assert len(keys) == len(set(keys)) and "tab" in keys and "v" not in keys
        await pilot.press("escape")

        await pilot.press("p")  # screenshot: RCSTUDIO_HOME/screenshots, created on the spot
        from rcstudio.paths import home

        await _until(pilot, lambda: list((home() / "screenshots").glob("*.svg")))
        await pilot.press("escape")
        assert isinstance(app.screen, type(app.screen_stack[0]))


async def test_runs_list_help_has_each_key_once(registry):
    app = _app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await _until(pilot, lambda: app.loaded)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-text", Static).render())
        keys = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
        assert len(keys) == len(set(keys)) and {"enter", "space", "v", "e", "p"} <= set(keys)


async def test_grouping_and_adaptive_columns(registry, metric_runs):
    add_eval_run(registry, metric_runs)
    app = _app(registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: app.loaded)
        table = app.query_one(RunsTable)
        assert {"name", "run_id", "state"} <= set(table.columns_shown)  # 80 columns keep the state
        await pilot.press("e")
        assert table.cell(0, "name") == "▾ quickstart (1)"
        assert table.current_run_id is not None  # the cursor lands on a run, not a header
        table.move_cursor(row=0)
        await pilot.press("enter")  # on a group header: nothing opens
        assert len(app.screen_stack) == 1
    app = _app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await _until(pilot, lambda: app.loaded)
        table = app.query_one(RunsTable)
        row = next(i for i in range(table.row_count) if table.cell(i, "name") == "quickstart")
        assert table.cell(row, "eval") == "hs3_atomic rc: evidence-judge=0.858 surface-judge=0.221"


async def test_compare_offers_eval_metrics_and_lists_runs_lacking_them(registry, metric_runs):
    add_eval_run(registry, metric_runs)
    app = _app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await _until(pilot, lambda: app.loaded)
        await pilot.press("space", "down", "space", "v")  # quickstart + alpha 1
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await _until(pilot, lambda: screen.available)
        assert "eval/hs3_atomic/evidence-judge/rc" in screen.metrics
        screen.metric_index = screen.metrics.index("eval/hs3_atomic/evidence-judge/rc")
        screen.load()
        top = screen.query_one("#compare-chart", MetricChart)
        await _until(pilot, lambda: top.title == "eval/hs3_atomic/evidence-judge/rc" and top._series)
        assert [label for label, _ in top._series] == ["quickstart"]
        await _until(pilot, lambda: screen.missing.get("eval/hs3_atomic/evidence-judge/rc"))
        assert screen.missing["eval/hs3_atomic/evidence-judge/rc"] == ["genrm-additive-alpha1"]
        note = str(screen.query_one("#missing-1", Static).render())
        assert "not in 1 run(s): genrm-additive-alpha1" in note
