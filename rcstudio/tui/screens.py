"""Screens: run details, compare charts, confirmation and key-binding help."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, Log, Static, TabbedContent, TabPane

from rcstudio.tracking.links import wandb_url
from rcstudio.tui.widgets import MetricChart

RUN_METRICS = ["reward/total", "reward/outcome", "reward/rationale"]
COMPARE_METRICS = ["reward/outcome", "reward/rationale", "reward/total", "reward/ap", "reward/rc"]
LOG_TAIL_BYTES = 64 * 1024


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
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            key, desc = b.key_display or b.key, b.description
        else:
            key, desc = b[0], b[2] if len(b) > 2 else b[1]
        out.append((key.replace("question_mark", "?").replace("slash", "/"), desc))
    return out


class RunScreen(Screen[None]):
    """One run: resolved spec and its diff, compiled artifacts, log tail, job states, chart."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("d", "next_diff", "Diff vs next run"),
        Binding("f", "toggle_follow", "Follow log"),
        Binding("c", "app.cancel_run", "Cancel"),
        Binding("r", "app.resubmit_run", "Resubmit"),
        Binding("question_mark", "help", "Help"),
    ]
    DEFAULT_CSS = """
    RunScreen #run-title { height: auto; padding: 0 1; background: $boost; }
    RunScreen Static.text { padding: 0 1; }
    """

    def __init__(self, backend: Any, record: Any, others: list[Any]) -> None:
        super().__init__()
        self.backend = backend
        self.record = record
        self.others = [r for r in others if r.run_id != record.run_id]
        self.diff_index = 0
        self.follow = True
        self.details_loaded = False

    def compose(self) -> ComposeResult:
        rec = self.record
        yield Static(  # names and paths come from users: escaped so a `[` is not read as markup
            f"[b]{escape(rec.name)}[/b]  {rec.run_id}  {rec.kind}/{rec.engine or '-'}  {rec.state}  "
            f"executor={rec.executor}  W&B: {escape(wandb_url(rec))}",
            id="run-title",
        )
        with TabbedContent(initial="tab-spec"):
            with TabPane("Spec", id="tab-spec"):
                yield Static("loading...", id="spec", classes="text", markup=False)
            with TabPane("Diff", id="tab-diff"):
                yield Static("", id="diff", classes="text", markup=False)
            with TabPane("Artifacts", id="tab-artifacts"):
                yield Static("", id="artifacts", classes="text", markup=False)
            with TabPane("Logs", id="tab-logs"):
                yield Log(id="log", max_lines=2000)
            with TabPane("Jobs", id="tab-jobs"):
                yield Static("", id="jobs", classes="text", markup=False)
            with TabPane("Chart", id="tab-chart"):
                yield MetricChart(title=rec.name, id="chart")
        yield Footer()

    def on_mount(self) -> None:
        self._log_tail: Any = None
        self._log_shown = False
        self.load_details()
        self.load_logs()
        self.load_chart()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.follow:
            self.load_logs()

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
        """Spec, diff, compiled files and job states: file and registry reads, off the UI thread."""
        rec = self.record
        spec = self.backend.resolved_spec(rec)
        files = self.backend.artifacts(rec)
        jobs = self.backend.jobs(rec)
        diff = self.diff_text()
        jobs_text = "\n".join(f"{jid:<16} {state}" for jid, state in jobs) or f"no scheduler job (state {rec.state})"

        def show() -> None:
            self.query_one("#spec", Static).update(spec)
            self.query_one("#artifacts", Static).update("\n".join(files) or "(nothing compiled)")
            self.query_one("#jobs", Static).update(jobs_text)
            self.query_one("#diff", Static).update(diff)
            self.details_loaded = True

        self.app.call_from_thread(show)

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
        self.app.push_screen(HelpScreen(binding_lines(self.BINDINGS)))

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
        text = self._log_tail.poll()
        if text:
            self.app.call_from_thread(self.query_one("#log", Log).write, text)
        elif not self._log_shown:
            self.app.call_from_thread(self.query_one("#log", Log).write,
                                      f"(no output yet; run {self.record.state})\n")
        self._log_shown = True

    @work(thread=True, exclusive=True, group="chart", exit_on_error=False)
    def load_chart(self) -> None:
        chart = self.query_one("#chart", MetricChart)
        try:
            hist = self.backend.history(self.record, RUN_METRICS, chart.samples())
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"W&B unreachable: {exc}", severity="warning")
            return
        self.app.call_from_thread(chart.set_series, list(hist.items()))


class CompareScreen(Screen[None]):
    """Several runs overlaid, two metrics stacked: by default outcome reward above rationale
    reward, the rationale-degeneration picture of an alpha sweep. `n` moves to the next pair."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("n", "next_metric", "Next metrics"),
        Binding("question_mark", "help", "Help"),
    ]
    DEFAULT_CSS = """
    CompareScreen MetricChart { height: 1fr; }
    """

    def __init__(self, backend: Any, records: list[Any], metrics: list[str] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.records = records
        self.metrics = metrics or list(COMPARE_METRICS)
        self.metric_index = 0

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
        yield MetricChart(title=self.pair[0], id="compare-chart")
        yield MetricChart(title=self.pair[1], id="compare-chart-2")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def action_next_metric(self) -> None:
        self.metric_index += 2 if len(self.metrics) > 2 else 1
        self.load()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(binding_lines(self.BINDINGS)))

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        charts = [self.query_one("#compare-chart", MetricChart), self.query_one("#compare-chart-2", MetricChart)]
        metrics = list(self.pair)
        found: dict[str, list[tuple[str, Any]]] = {m: [] for m in metrics}
        for rec in self.records:
            try:
                hist = self.backend.history(rec, metrics, charts[0].samples())
            except Exception as exc:  # noqa: BLE001
                self.app.call_from_thread(self.notify, f"{rec.name}: {exc}", severity="warning")
                continue
            for metric in metrics:
                if metric in hist:
                    found[metric].append((rec.name, hist[metric]))
        for chart, metric in zip(charts, metrics):
            self.app.call_from_thread(chart.set_series, found[metric], metric)
