"""Pilot tests: navigation, filters, sorting, tags, run view, compare, actions with confirmation."""

from __future__ import annotations

from textual.widgets import Input, Log, Static, TabbedContent

from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.screens import CompareScreen, ConfirmScreen, HelpScreen, RunScreen
from rcstudio.tui.widgets import MetricChart, RunsTable

T0 = 1_790_000_000.0  # as in conftest.py


def make_app(registry, **kw) -> RcStudioApp:
    backend = kw.pop("backend", None) or Backend(registry, poll=lambda: None)
    return RcStudioApp(backend, refresh_s=0, clock=lambda: T0 + 200, **kw)


async def loaded(app, pilot, count: int = 1) -> None:
    for _ in range(400):
        if app.loaded >= count:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    assert app.loaded >= count


def shown(app) -> list[str]:
    table = app.query_one(RunsTable)
    return [table.cell(i, "name") for i in range(table.row_count)]


async def test_table_shows_runs_with_metrics(registry):
    app = make_app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        assert shown(app) == [f"genrm-additive-alpha{a}" for a in ("1", "0.8", "0.5", "0")]
        table = app.query_one(RunsTable)
        # alpha 0.8: metrics from the offline W&B run; the swept key is a column of its own
        assert table.cell(1, "point:reward.alpha") == "0.8" and table.cell(1, "state") == "FAILED"
        assert table.cell(1, "run_id") == "genrm-additive-00000002"
        assert table.cell(1, "reward/total") != "-" and table.cell(1, "eval").startswith("judgebench/micro=68")
        assert table.cell(0, "elapsed") == "-"  # never started: no elapsed time
        assert "scheduler: ok" in str(app.query_one("#status").render())


async def test_filter_tag_and_sort(registry):
    app = make_app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"alpha0.")
        assert shown(app) == ["genrm-additive-alpha0.8", "genrm-additive-alpha0.5"]
        await pilot.press("enter")
        assert app.query_one(RunsTable).has_focus
        await pilot.press("slash", "escape")
        assert len(shown(app)) == 4
        await pilot.press("slash", *"state:failed", "enter")
        assert shown(app) == ["genrm-additive-alpha0.8"]
        await pilot.press("slash", "escape")
        await pilot.press("t")  # first tag: ablation
        assert app.tag == "ablation" and shown(app) == ["genrm-additive-alpha0.8", "genrm-additive-alpha0.5"]
        await pilot.press("t")
        assert app.tag == "paper" and shown(app) == ["genrm-additive-alpha1", "genrm-additive-alpha0"]
        await pilot.press("t")
        assert app.tag is None and len(shown(app)) == 4
        # sort by reward/rationale (descending): alpha 1 holds rationale up best
        while app.sort_key != "reward/rationale":
            await pilot.press("s")
        assert shown(app)[0] == "genrm-additive-alpha1" and shown(app)[-1] == "genrm-additive-alpha0"
        await pilot.press("S")
        assert shown(app)[0] == "genrm-additive-alpha0"


async def test_run_view_spec_diff_logs_chart(registry):
    app = make_app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        await pilot.press("down", "enter")  # alpha 0.8
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.record.name == "genrm-additive-alpha0.8"
        for _ in range(200):
            if screen.details_loaded:
                break
            await pilot.pause(0.05)
        assert "alpha = 0.8" in str(screen.query_one("#spec", Static).render())
        assert "-alpha = " in str(screen.query_one("#diff", Static).render())
        assert "+alpha = 0.8" in str(screen.query_one("#diff", Static).render())
        assert "compiled/overrides.txt" in str(screen.query_one("#artifacts", Static).render())
        for _ in range(100):
            if screen.query_one("#log", Log).line_count > 1:
                break
            await pilot.pause(0.05)
        assert any("step 29" in line for line in screen.query_one("#log", Log).lines)
        chart = screen.query_one(MetricChart)
        for _ in range(100):
            if chart._series:
                break
            await pilot.pause(0.05)
        assert {k for k, s in chart._series if len(s)} == {"reward/total", "reward/outcome", "reward/rationale"}
        screen.query_one(TabbedContent).active = "tab-chart"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Diff vs next run" in str(app.screen.query_one("#help-text", Static).render())
        await pilot.press("escape", "escape")
        assert isinstance(app.screen.query_one(RunsTable), RunsTable)
        # a marked run is the first diff candidate
        await pilot.press("up", "space", "down", "enter")  # mark alpha 1, open alpha 0.8
        for _ in range(200):
            if app.screen.details_loaded:
                break
            await pilot.pause(0.05)
        diff = str(app.screen.query_one("#diff", Static).render())
        assert "genrm-additive-alpha1" in diff and "-alpha = 1.0" in diff


async def test_compare_marked_runs(registry):
    app = make_app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        for _ in range(4):
            await pilot.press("space", "down")
        assert len(app.query_one(RunsTable).marked) == 4
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, CompareScreen) and len(screen.records) == 4
        top, bottom = screen.query(MetricChart)
        for _ in range(200):
            if len(top._series) == 4 and len(bottom._series) == 4:
                break
            await pilot.pause(0.05)
        assert (top.title, bottom.title) == ("reward/outcome", "reward/rationale")
        assert [label for label, _ in bottom._series] == [f"genrm-additive-alpha{a}" for a in ("1", "0.8", "0.5", "0")]
        # the degeneration picture: final rationale reward orders with alpha
        finals = [s.values[-1] for _, s in bottom._series]
        assert finals == sorted(finals, reverse=True)
        await pilot.press("n")
        for _ in range(200):
            if top.title == "reward/total":
                break
            await pilot.pause(0.05)
        assert (top.title, bottom.title) == ("reward/total", "reward/ap")


class RecordingBackend(Backend):
    def __init__(self, registry):
        super().__init__(registry, poll=lambda: None)
        self.cancelled: list[str] = []

    def cancel(self, record):
        self.registry.update_states({record.run_id: "CANCELLED"})
        self.cancelled.append(record.run_id)
        return f"cancelled {record.name}"


async def test_cancel_asks_first(registry):
    backend = RecordingBackend(registry)
    app = make_app(registry, backend=backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        await pilot.press("down", "down")  # alpha 0.5, RUNNING
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert backend.cancelled == []
        await pilot.press("c", "y")
        await loaded(app, pilot, 2)
        assert backend.cancelled == ["genrm-additive-00000001"]
        assert registry.get("genrm-additive-00000001").state == "CANCELLED"
        assert "CANCELLED" in [str(c) for c in app.query_one(RunsTable).get_row_at(2)]


async def test_failed_action_and_slow_scheduler_show_in_status(registry):
    def down():
        raise ConnectionError("squeue: slurm_load_jobs error: Unable to contact slurm controller")

    app = make_app(registry, backend=Backend(registry, poll=down))
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        status = str(app.query_one("#status").render())
        assert "scheduler: unreachable" in status
        assert len(shown(app)) == 4  # last known states still shown
        app.backend.resubmit = lambda rec: (_ for _ in ()).throw(RuntimeError("no executor"))
        await pilot.press("r", "y")
        await loaded(app, pilot, 2)
        assert any("no executor" in str(n.message) for n in app._notifications)


async def test_hanging_scheduler_never_freezes_the_ui(registry):
    import threading

    release = threading.Event()
    calls = []

    def hang():
        calls.append(1)
        release.wait(30)

    app = RcStudioApp(Backend(registry, poll=hang), refresh_s=0.3, clock=lambda: T0 + 200)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.1)
        for _ in range(100):  # first paint comes from the registry without waiting for Slurm
            if app.painted:
                break
            await pilot.pause(0.05)
        assert len(shown(app)) == 4
        await pilot.press("slash", *"alpha1", "enter")  # the UI keeps answering
        assert shown(app) == ["genrm-additive-alpha1"]
        for _ in range(100):
            if "waiting" in str(app.query_one("#status").render()):
                break
            await pilot.pause(0.05)
        assert "waiting" in str(app.query_one("#status").render())
        assert len(calls) == 1  # no refresh stacked on the hung one
        release.set()
        await loaded(app, pilot)


async def test_refresh_error_is_reported_not_fatal(registry):
    class Broken(Backend):
        def snapshot(self, limit=None, poll=True):
            raise OSError("database is locked")

    app = make_app(registry, backend=Broken(registry, poll=lambda: None))
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(100):
            if app._notifications:
                break
            await pilot.pause(0.05)
        assert any("database is locked" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_all_runs_load_only_after_the_first_page_is_on_the_screen(registry):
    """The first page comes from the registry and is drawn before the full load starts (which
    would otherwise hold the GIL while the UI thread draws); `painted` is set by that refresh."""
    seen: list[tuple[int | None, bool, int]] = []

    class Recording(Backend):
        def snapshot(self, limit=None, poll=True):
            seen.append((limit, app.painted, len(app.query_one(RunsTable).rows)))
            return super().snapshot(limit=limit, poll=poll)

    app = make_app(registry, backend=Recording(registry, poll=lambda: None))
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
    assert seen[0] == (RunsTable.PAGE, False, 0)
    limit, painted, rows = seen[1]
    assert limit is None and painted and rows == 4


async def test_run_header_shows_an_eval_jobs_judging_progress(registry, tmp_path):
    """A live eval writes its judging progress (rcstudio.evals.progress with a run dir); the run
    screen's header shows it: phase, done/total, rate."""
    import io

    from rcstudio.evals.progress import Progress
    from rcstudio.launch.registry import RunRecord

    run_dir = tmp_path / "eval-run"
    registry.add_runs([RunRecord(
        run_id="judge-smollm-00000001", name="judge-smollm", experiment="judge-smollm", kind="eval", engine="",
        executor="local", state="RUNNING", created_at=T0 + 100, updated_at=T0 + 100, started_at=T0 + 100,
        ended_at=None, run_dir=str(run_dir), spec_hash="e1", point={}, tags=[], wandb={"mode": "disabled"},
    )])  # fmt: skip
    progress = Progress("judgebench: judging", 60, bar=False, stream=io.StringIO(), run_dir=run_dir)
    for _ in range(12):
        progress.advance()
    progress.close()  # the job stopped here: the file holds 12/60 (writes are otherwise throttled)
    app = make_app(registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(app, pilot)
        assert shown(app)[0] == "judge-smollm"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        for _ in range(200):
            if "12/60" in str(screen.query_one("#run-progress", Static).render()):
                break
            await pilot.pause(0.05)
        header = str(screen.query_one("#run-progress", Static).render())
        assert "judgebench: judging gen 12/60 (20%)" in header and "gens/s" in header and "eta" in header
