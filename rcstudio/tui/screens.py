"""Screens: run details, compare charts, metric picker, confirmation and key-binding help.

Every screen has ONE binding table (its BINDINGS, plus the app's global keys); the footer and the
help screen are both generated from it, so they always agree."""

from __future__ import annotations

import difflib
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Label,
    Log,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)

from rcstudio.tracking.links import wandb_url
from rcstudio.tui.widgets import MetricChart, MetricTile, ScatterPlot

RUN_METRICS = ["reward/total", "reward/outcome", "reward/rationale"]
COMPARE_METRICS = ["reward/outcome", "reward/rationale", "reward/total", "reward/ap", "reward/rc"]
TILES = (("reward/total", "R tot"), ("reward/outcome", "R out"), ("reward/rationale", "R rat"),
         ("reward/rc", "RC"), ("reward/format_error_rate", "fmt err"))
SWEEP_METRICS = ["reward/total", "reward/outcome", "reward/rationale", "reward/rc"]
LOG_TAIL_BYTES = 64 * 1024
GLOBAL_KEYS = [("p", "Screenshot (SVG under RCSTUDIO_HOME/screenshots)"), ("ctrl+q", "Quit")]


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no before anything that changes a run (cancel, resubmit)."""

    BINDINGS = [("y", "answer(True)", "Yes"), ("n,escape", "answer(False)", "No")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmScreen Horizontal { height: auto; align: center middle; }
    ConfirmScreen Button { margin: 1 2 0 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    """The key bindings of the screen below, generated from its BINDINGS."""

    BINDINGS = [("escape,q,question_mark", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 70; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lines = bindings

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.lines), default=4)
        text = "\n".join(f"{key.ljust(width)}  {desc}" for key, desc in self.lines)
        yield Static("[b]Key bindings[/b]\n\n" + text, id="help-text")


def binding_lines(bindings: list[Any]) -> list[tuple[str, str]]:
    """(key, description) per binding, each key once (the first binding of a key wins)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for b in bindings:
        if isinstance(b, Binding):
            key, desc = b.key_display or b.key, b.description
        else:
            key, desc = b[0], b[2] if len(b) > 2 else b[1]
        key = key.replace("question_mark", "?").replace("slash", "/").replace("shift+tab", "shift+tab")
        if key in seen or not desc:
            continue
        seen.add(key)
        out.append((key, desc))
    return out


def screen_help(bindings: list[Any]) -> list[tuple[str, str]]:
    """A screen's help: its own bindings, then the keys every screen has."""
    return binding_lines(list(bindings) + GLOBAL_KEYS)


class RunScreen(Screen[None]):
    """One run: a header with progress inside the run and key-metric tiles, then tabs - results
    (per-judge table and RC-vs-OA scatter for eval runs), chart, sweep (alpha vs metric), logs
    (the job's real output, followed), artifacts, resolved spec, spec diff, scheduler jobs."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", key_display="esc"),
        Binding("tab", "next_tab", "Next tab", priority=True),
        Binding("shift+tab", "prev_tab", "Prev tab", priority=True),
        Binding("d", "next_diff", "Diff vs next run"),
        Binding("f", "toggle_follow", "Follow log"),
        Binding("c", "app.cancel_run", "Cancel"),
        Binding("r", "app.resubmit_run", "Resubmit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]
    TABS = ("tab-results", "tab-chart", "tab-sweep", "tab-logs", "tab-artifacts", "tab-spec", "tab-diff", "tab-jobs")
    DEFAULT_CSS = """
    RunScreen #run-title { height: 1; padding: 0 1; background: $boost; }
    RunScreen #run-progress { height: 1; padding: 0 1; }
    RunScreen #tiles { height: 2; padding: 0 1; }
    RunScreen #tiles.-hidden { display: none; }
    RunScreen Static.text { padding: 0 1; }
    RunScreen TabbedContent { height: 1fr; }
    RunScreen ContentSwitcher { height: 1fr; }
    RunScreen TabPane { height: 1fr; padding: 0; }
    RunScreen #judges { height: auto; max-height: 10; }
    RunScreen #scatter { height: 1fr; min-height: 6; }
    RunScreen #results-note { height: auto; padding: 0 1; }
    """

    def __init__(self, backend: Any, record: Any, others: list[Any]) -> None:
        super().__init__()
        self.backend = backend
        self.record = record
        self.others = [r for r in others if r.run_id != record.run_id]
        self.diff_index = 0
        self.follow = True
        self.details_loaded = False
        self.results_loaded = False
        self.is_eval = record.kind == "eval"

    def compose(self) -> ComposeResult:
        rec = self.record
        yield Static(  # names and paths come from users: escaped so a `[` is not read as markup
            f"[b]{escape(rec.name)}[/b]  {rec.run_id}  {rec.kind}{'/' + rec.engine if rec.engine else ''}  {rec.state}  "
            f"executor={rec.executor}  W&B: {escape(wandb_url(rec))}",
            id="run-title",
        )
        yield Static(self._progress_text(None, None), id="run-progress", markup=False)
        with Horizontal(id="tiles", classes="-hidden" if self.is_eval else ""):
            for key, label in TILES:
                yield MetricTile(key, label, id=f"tile-{key.replace('/', '-')}")
        with TabbedContent(initial="tab-results" if self.is_eval else "tab-chart"):
            with TabPane("Results", id="tab-results"):
                with Vertical():
                    yield DataTable(id="judges", cursor_type="row", zebra_stripes=True)
                    yield Static("", id="results-note", markup=False)
                    yield ScatterPlot("RC vs OA", "OA (outcome accuracy)", "RC", id="scatter")
            with TabPane("Chart", id="tab-chart"):
                yield MetricChart(title=rec.name, id="chart")
            with TabPane("Sweep", id="tab-sweep"):
                yield MetricChart(title="swept value vs final metric", id="sweep-chart")
            with TabPane("Logs", id="tab-logs"):
                yield Log(id="log", max_lines=2000)
            with TabPane("Artifacts", id="tab-artifacts"):
                yield Static("", id="artifacts", classes="text", markup=False)
            with TabPane("Spec", id="tab-spec"):
                yield Static("loading...", id="spec", classes="text", markup=False)
            with TabPane("Diff", id="tab-diff"):
                yield Static("", id="diff", classes="text", markup=False)
            with TabPane("Jobs", id="tab-jobs"):
                yield Static("", id="jobs", classes="text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._log_tail: Any = None
        self._log_shown = False
        self.load_details()
        self.load_results()
        self.load_logs()
        self.load_chart()
        self.load_sweep()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.follow:
            self.load_logs()
        if not self.record.finished:
            self.load_chart()

    # -- tabs ------------------------------------------------------------------------------
    def _switch_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        order = list(self.TABS)
        i = order.index(tabs.active) if tabs.active in order else 0
        tabs.active = order[(i + step) % len(order)]

    def action_next_tab(self) -> None:
        self._switch_tab(1)

    def action_prev_tab(self) -> None:
        self._switch_tab(-1)

    # -- header ----------------------------------------------------------------------------
    def _progress_text(self, progress: Any, last_step: int | None) -> str:
        """`train step 3/10 (30%) ... eta 1:38` from the job's progress file, else the last W&B
        step, else the run's state and elapsed time."""
        import time

        from rcstudio.tracking.progress import clock

        rec = self.record
        try:
            now = getattr(self.app, "clock", time.time)()
        except Exception:  # noqa: BLE001 - no active app (unit use)
            now = time.time()
        elapsed = ""
        if rec.started_at:
            elapsed = f"elapsed {clock((rec.ended_at or now) - rec.started_at)}"
        if progress is not None:
            return f"progress: {progress.line(now)}"
        if last_step is not None:
            rate = ""
            if rec.started_at and last_step > 0:
                spent = (rec.ended_at or now) - rec.started_at
                rate = f"  {last_step / spent:.2f} step/s" if spent > 0 else ""
            return f"progress: step {last_step} (W&B history)  {elapsed}{rate}".rstrip()
        return f"progress: {rec.state.lower()}  {elapsed}".rstrip()

    # -- loading ---------------------------------------------------------------------------
    def diff_text(self) -> str:
        """Unified diff of the resolved specs (blocking: call from a worker)."""
        if not self.others:
            return "(no other run to compare with; mark one with space in the runs table)"
        other = self.others[self.diff_index % len(self.others)]
        mine = self.backend.resolved_spec(self.record).splitlines()
        theirs = self.backend.resolved_spec(other).splitlines()
        diff = list(difflib.unified_diff(theirs, mine, other.name, self.record.name, lineterm="", n=1))
        return "\n".join(diff) if diff else f"(same resolved spec as {other.name})"

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def load_details(self) -> None:
        """Spec, diff, artifacts and job states: file and registry reads, off the UI thread."""
        rec = self.record
        spec = self.backend.resolved_spec(rec)
        files = self.backend.artifacts(rec)
        jobs = self.backend.jobs(rec)
        diff = self.diff_text()
        jobs_text = "\n".join(f"{jid:<16} {state}" for jid, state in jobs) or f"no scheduler job (state {rec.state})"

        def show() -> None:
            self.query_one("#spec", Static).update(spec)
            self.query_one("#artifacts", Static).update("\n".join(files) or "(nothing written yet)")
            self.query_one("#jobs", Static).update(jobs_text)
            self.query_one("#diff", Static).update(diff)
            self.details_loaded = True

        self.app.call_from_thread(show)

    @work(thread=True, exclusive=True, group="results", exit_on_error=False)
    def load_results(self) -> None:
        """Per-judge results of an eval run (results/summary.json), else a training run's last values."""
        from rcstudio.tui.results import (
            eval_metrics,
            fmt,
            fmt_ci,
            judge_rows,
            train_values,
        )

        rows = judge_rows(self.record.run_dir)
        other = {k: v for k, v in eval_metrics(self.record.run_dir).items() if "/hs3_atomic/" not in k}
        train = train_values(self.record.run_dir)

        def show() -> None:
            table = self.query_one("#judges", DataTable)
            table.clear(columns=True)
            note = ""
            if rows:
                for header in ("judge", "items", "OA", "RC", "RC 95% CI", "precision", "AP", "reward"):
                    table.add_column(header, key=header)
                for r in rows:
                    table.add_row(r.judge, "-" if r.items is None else str(r.items), fmt(r.oa), fmt(r.rc),
                                  fmt_ci(r.rc_ci), fmt(r.precision), fmt(r.ap), fmt(r.reward), key=r.judge)
            elif other or train:
                # a training run: the mean of what each step logged next to the last step's values
                # (a tiny judge's last batch is often all format errors: zeros that mean little)
                means = train.get("mean_rewards") or {}
                last = train.get("last_rewards") or {}
                table.add_column("metric", key="metric")
                table.add_column("mean over steps" if means else "value", key="value")
                if means:
                    table.add_column("last step", key="last")
                for key in sorted(set(other) | set(means) | set(last)):
                    value = other.get(key, means.get(key, last.get(key)))
                    cells = [key, fmt(value) if isinstance(value, (int, float)) else str(value)]
                    if means:
                        cells.append(fmt(last[key]) if isinstance(last.get(key), (int, float)) else "-")
                    table.add_row(*cells)
                if train:
                    steps = f", means over {train['reward_steps']} steps" if train.get("reward_steps") else ""
                    note = f"training: step {train.get('global_step', '-')}, {train.get('prompts', '-')} prompts{steps}"
            else:
                note = (f"no results yet (run {self.record.state.lower()}); eval runs write results/summary.json, "
                        "training runs results/train_summary.json")
            self.query_one("#results-note", Static).update(note)
            points = [(r.judge, r.oa, r.rc) for r in rows if r.oa is not None and r.rc is not None]
            scatter = self.query_one("#scatter", ScatterPlot)
            scatter.display = bool(points)
            scatter.set_points(points, "RC vs OA (one point per judge)")
            self.results_loaded = True

        self.app.call_from_thread(show)

    @work(thread=True, exclusive=True, group="logs", exit_on_error=False)
    def load_logs(self) -> None:
        """Append what the run's output files gained since the last look (the same files as
        `rcstudio logs`, errors included; only their tails on the first read)."""
        if self._log_tail is None:
            from rcstudio.launch.logs import LogTail

            try:
                files = self.backend.run_logs(self.record)
            except Exception as exc:  # noqa: BLE001 - shown in the tab, the screen keeps going
                self.app.call_from_thread(self.query_one("#log", Log).write, f"(cannot locate logs: {exc})\n")
                return
            self._log_tail = LogTail(files, start_tail=LOG_TAIL_BYTES)
        elif not self.record.finished:  # a scheduler's file appears once the job starts
            try:
                self._log_tail.extend(self.backend.run_logs(self.record))
            except Exception:  # noqa: BLE001 - the files already followed keep flowing
                pass
        text = self._log_tail.poll()
        if text:
            self.app.call_from_thread(self.query_one("#log", Log).write, text)
        elif not self._log_shown:
            self.app.call_from_thread(self.query_one("#log", Log).write,
                                      f"(no output yet; run {self.record.state})\n")
        self._log_shown = True

    @work(thread=True, exclusive=True, group="chart", exit_on_error=False)
    def load_chart(self) -> None:
        """Step history of the key metrics: chart, tiles, and the header's progress."""
        from rcstudio.tracking.progress import read_progress

        chart = self.query_one("#chart", MetricChart)
        keys = list(dict.fromkeys(RUN_METRICS + [k for k, _ in TILES]))
        progress = read_progress(self.record.run_dir)
        try:
            hist = self.backend.history(self.record, keys, chart.samples())
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"W&B unreachable: {exc}", severity="warning")
            hist = {}
        steps = [int(s.steps[-1]) for s in hist.values() if len(s)]
        last_step = max(steps) if steps else None

        def show() -> None:
            if self.is_eval:
                chart.empty_text = "eval runs log final values: see the Results tab"
            chart.set_series([(k, hist[k]) for k in RUN_METRICS if k in hist])
            for tile in self.query(MetricTile):
                tile.set_series(hist.get(tile.key))
            self.query_one("#run-progress", Static).update(self._progress_text(progress, last_step))

        self.app.call_from_thread(show)

    @work(thread=True, exclusive=True, group="sweep", exit_on_error=False)
    def load_sweep(self) -> None:
        """The paper's ablation view: each metric's final value against the swept value, over
        the sweep points of this run's experiment (variants are not sweep points)."""
        from rcstudio.tui.data import is_sweep_point

        chart = self.query_one("#sweep-chart", MetricChart)
        rec = self.record
        if not is_sweep_point(rec):
            self.app.call_from_thread(self._sweep_empty, "not a sweep point")
            return
        key = next((k for k, v in rec.point.items() if isinstance(v, (int, float)) and not isinstance(v, bool)), None)
        if key is None:
            self.app.call_from_thread(self._sweep_empty, "no numeric swept value")
            return
        siblings = [r for r in self.backend.sweep_runs(rec) if is_sweep_point(r) and key in r.point]
        series = self.backend.sweep_series(siblings, key, SWEEP_METRICS)
        label = key.rsplit(".", 1)[-1]
        self.app.call_from_thread(chart.set_series, series, f"{label} vs final metric ({len(siblings)} points)")
        self.app.call_from_thread(self._sweep_axis, label)

    def _sweep_empty(self, why: str) -> None:
        chart = self.query_one("#sweep-chart", MetricChart)
        chart.empty_text = why
        chart.set_series([])

    def _sweep_axis(self, label: str) -> None:
        chart = self.query_one("#sweep-chart", MetricChart)
        chart.xlabel = label
        chart.replot()

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def show_diff(self) -> None:
        text = self.diff_text()
        self.app.call_from_thread(self.query_one("#diff", Static).update, text)

    def action_next_diff(self) -> None:
        self.diff_index += 1
        self.show_diff()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.notify("following the log" if self.follow else "log follow off")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(screen_help(self.BINDINGS)))


class MetricPicker(ModalScreen[str]):
    """Choose one metric among those the compared runs have (training and eval keys alike)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    MetricPicker { align: center middle; }
    MetricPicker > Vertical { width: 80%; height: 80%; border: thick $accent; background: $surface; }
    MetricPicker OptionList { height: 1fr; }
    """

    def __init__(self, keys: list[str], counts: dict[str, int], runs: int) -> None:
        super().__init__()
        self.keys = keys
        self.counts = counts
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"metric to compare ({len(self.keys)} keys; n/{self.runs} = runs that have it)")
            yield OptionList(*[f"{k}  ({self.counts.get(k, 0)}/{self.runs})" for k in self.keys], id="metric-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.keys[event.option_index])

    def action_dismiss_none(self) -> None:
        self.dismiss("")


class CompareScreen(Screen[None]):
    """Several runs overlaid, two metrics stacked: by default outcome reward above rationale
    reward, the rationale-degeneration picture of an alpha sweep. Any metric present in the runs
    can be chosen (`m`), eval results too (final values, drawn as one point per run); runs that
    lack a metric are listed above its chart."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", key_display="esc"),
        Binding("n", "next_metric", "Next metrics"),
        Binding("m", "pick_metric", "Choose metric"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]
    DEFAULT_CSS = """
    CompareScreen MetricChart { height: 1fr; }
    CompareScreen .missing { height: auto; padding: 0 1; color: $warning; }
    """

    def __init__(self, backend: Any, records: list[Any], metrics: list[str] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.records = records
        self.metrics = metrics or list(COMPARE_METRICS)
        self.metric_index = 0
        self.available: dict[str, list[str]] = {}  # run name -> its numeric keys
        self.missing: dict[str, list[str]] = {}  # metric -> run names without it

    @property
    def metric(self) -> str:
        return self.metrics[self.metric_index % len(self.metrics)]

    @property
    def pair(self) -> tuple[str, str]:
        """The two metrics shown: this one and the next."""
        return self.metric, self.metrics[(self.metric_index + 1) % len(self.metrics)]

    def compose(self) -> ComposeResult:
        names = escape(", ".join(r.name for r in self.records))
        yield Static(f"[b]compare[/b] {len(self.records)} runs: {names}", id="compare-title", markup=True)
        yield Static("", id="missing-1", classes="missing", markup=False)
        yield MetricChart(title=self.pair[0], id="compare-chart")
        yield Static("", id="missing-2", classes="missing", markup=False)
        yield MetricChart(title=self.pair[1], id="compare-chart-2")
        yield Footer()

    def on_mount(self) -> None:
        self.discover()
        self.load()

    def action_next_metric(self) -> None:
        self.metric_index += 2 if len(self.metrics) > 2 else 1
        self.load()

    def action_pick_metric(self) -> None:
        keys = sorted({k for ks in self.available.values() for k in ks} | set(self.metrics))
        counts = {k: sum(k in ks for ks in self.available.values()) for k in keys}

        def chosen(key: str | None) -> None:
            if key:
                if key not in self.metrics:
                    self.metrics.insert(self.metric_index % len(self.metrics), key)
                self.metric_index = self.metrics.index(key)
                self.load()

        self.app.push_screen(MetricPicker(keys, counts, len(self.records)), chosen)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(screen_help(self.BINDINGS)))

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def discover(self) -> None:
        """Every numeric key each run has (W&B summary and eval results): the picker's list."""
        found: dict[str, list[str]] = {}
        for rec in self.records:
            try:
                found[rec.name] = self.backend.metric_keys(rec)
            except Exception as exc:  # noqa: BLE001
                self.app.call_from_thread(self.notify, f"{rec.name}: {exc}", severity="warning")
        self.available = found
        extra = [k for k in sorted({k for ks in found.values() for k in ks}) if k not in self.metrics]
        self.metrics.extend(extra)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        charts = [self.query_one("#compare-chart", MetricChart), self.query_one("#compare-chart-2", MetricChart)]
        metrics = list(self.pair)
        found: dict[str, list[tuple[str, Any]]] = {m: [] for m in metrics}
        missing: dict[str, list[str]] = {m: [] for m in metrics}
        import numpy as np

        from rcstudio.tracking.source import Series

        for index, rec in enumerate(self.records):
            try:
                hist = self.backend.history(rec, metrics, charts[0].samples())
                finals = self.backend.final_values(rec, metrics)
            except Exception as exc:  # noqa: BLE001
                self.app.call_from_thread(self.notify, f"{rec.name}: {exc}", severity="warning")
                continue
            for metric in metrics:
                series = hist.get(metric)
                if series is None or not len(series):
                    series = finals.get(metric)
                if series is None or not len(series):
                    missing[metric].append(rec.name)
                elif len(series) == 1:  # a final value: one point per run, at the run's position
                    found[metric].append((rec.name, Series(metric, np.array([float(index)]), series.values[-1:])))
                else:
                    found[metric].append((rec.name, series))
        self.missing = missing

        def show() -> None:
            for i, (chart, metric) in enumerate(zip(charts, metrics), start=1):
                finals_only = bool(found[metric]) and all(len(s) == 1 for _, s in found[metric])
                chart.xlabel = "run (legend order)" if finals_only else "step"
                chart.set_series(found[metric], metric)
                lacking = missing[metric]
                text = f"{metric}: not in {len(lacking)} run(s): {', '.join(lacking)}" if lacking else ""
                note = self.query_one(f"#missing-{i}", Static)
                note.update(text)
                note.display = bool(text)

        self.app.call_from_thread(show)
