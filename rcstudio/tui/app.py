"""`rcstudio tui`: the runs table, with run, compare, confirm and help screens on top.

All blocking work (poller, registry, `.wandb` files, W&B API, actions) runs in thread workers and
comes back as messages; the table repaints from the last snapshot, so a hung Slurm or W&B shows in
the status bar instead of freezing the UI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Header, Input

from rcstudio.tui.backend import SLOW_S, Backend, Snapshot
from rcstudio.tui.data import SORT_KEYS, RunRow, all_tags, filter_rows, sort_rows
from rcstudio.tui.screens import (
    CompareScreen,
    ConfirmScreen,
    HelpScreen,
    RunScreen,
    screen_help,
)
from rcstudio.tui.widgets import RunsTable, StatusBar

FIRST_PAINT_WAIT_S = 2.0  # the most the full load waits for the first page to be drawn


class SnapshotReady(Message):
    """A refresh finished in a worker."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class ActionDone(Message):
    """An action (or a failed refresh) finished: notify, then refresh unless told not to."""

    def __init__(self, text: str, error: bool = False, refresh: bool = True) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.refresh_after = refresh


class RcStudioApp(App[None]):
    """The dashboard. `clock` and `refresh_s` are injectable so snapshots are deterministic."""

    TITLE = "rcstudio"
    CSS = """
    #filter { display: none; height: 3; }
    #filter.-visible { display: block; }
    RunsTable { height: 1fr; }
    """
    BINDINGS = [  # the runs list's keys: the footer and `?` both come from this table
        Binding("q", "quit", "Quit"),
        Binding("enter", "open", "Open run"),
        Binding("space", "mark", "Mark", key_display="space"),
        Binding("v", "compare", "Compare marked"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("e", "toggle_group", "Group by experiment"),
        Binding("t", "next_tag", "Tag filter"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("c", "cancel_run", "Cancel"),
        Binding("r", "resubmit_run", "Resubmit"),
        Binding("g", "refresh", "Refresh", show=False),
        Binding("m", "more", "More rows", show=False),
        Binding("p", "screenshot", "Screenshot", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]
    # actions that only mean something on the runs list: off (and out of the footer) elsewhere,
    # so Enter on a run screen never stacks another copy of it
    LIST_ONLY = frozenset({"open", "mark", "compare", "filter", "toggle_group", "next_tag", "next_sort",
                           "reverse_sort", "refresh", "more", "help"})

    def __init__(
        self,
        backend: Backend | None = None,
        refresh_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        screenshot_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.screenshot_dir = screenshot_dir
        self.backend = backend or Backend()
        self.refresh_s = refresh_s
        self.clock = clock
        self.rows: list[RunRow] = []
        self.filter_text = ""
        self.tag: str | None = None
        self.sort_key = "created"
        self.sort_reverse = True
        self.health_line = "loading..."
        self.loaded = 0  # full snapshots applied (tests wait on it)
        self._refresh_started: float | None = None
        self._first_painted = threading.Event()  # set once the first page has been drawn

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(placeholder="filter: words, tag:X, state:RUNNING  (enter: apply, esc: clear)", id="filter")
        yield RunsTable(id="runs")
        yield StatusBar("", id="status")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """List-only keys work on the runs list only; cancel/resubmit also on a run screen."""
        on_list = len(self.screen_stack) <= 1
        if action in self.LIST_ONLY:
            return on_list
        if action in ("cancel_run", "resubmit_run"):
            return on_list or isinstance(self.screen, RunScreen)
        return True

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen under RCSTUDIO_HOME/screenshots (or the given folder), created
        when missing: works on a headless box with no ~/Downloads (Textual's default)."""
        from pathlib import Path

        from rcstudio.paths import home

        folder = Path(path or self.screenshot_dir or home() / "screenshots").expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as exc:
            self.notify(f"screenshot not saved: {exc}", severity="error")
            return None
        self.notify(f"screenshot saved: {saved}")
        return saved

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        self.deliver_screenshot(filename, path)

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()
        self.refresh_runs()
        if self.refresh_s > 0:
            self.set_interval(self.refresh_s, self.tick)

    # -- data ------------------------------------------------------------------------------
    def tick(self) -> None:
        """Periodic refresh; while one is still in flight (Slurm or W&B hanging) none is stacked
        on top, and the status bar says how long it has been waiting."""
        started = self._refresh_started
        if started is None:
            self.refresh_runs()
            return
        waited = time.monotonic() - started
        if waited > SLOW_S:
            self.query_one(StatusBar).add_class("-degraded")
            self.query_one(StatusBar).update(
                f"{len(self.rows)} runs (last known)  |  waiting {waited:.0f}s for the scheduler / W&B..."
            )

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def refresh_runs(self) -> None:
        self._refresh_started = time.monotonic()
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001 - e.g. the registry file is locked or gone
            self.post_message(ActionDone(f"refresh failed: {exc}", error=True, refresh=False))
        finally:
            self._refresh_started = None

    def _refresh(self) -> None:
        if not self.loaded:
            # first paint: the newest page straight from the registry, then everything
            first = self.backend.snapshot(limit=RunsTable.PAGE, poll=False)
            first.partial = True
            self.post_message(SnapshotReady(first))
            # loading every run (10,000 rows of Python objects) holds the GIL for a good while: it
            # starts once the first page is on the screen, not while the UI thread is drawing it
            self._first_painted.wait(timeout=FIRST_PAINT_WAIT_S)
        self.post_message(SnapshotReady(self.backend.snapshot()))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self.rows = message.snapshot.rows
        self.health_line = message.snapshot.health.line()
        if message.snapshot.partial:
            self.health_line = "loading all runs..."
        status = self.query_one(StatusBar)
        status.set_class(message.snapshot.health.degraded, "-degraded")
        self.redraw()
        if message.snapshot.partial:
            self.call_after_refresh(self._first_painted.set)
        else:
            self.loaded += 1

    @property
    def painted(self) -> bool:
        """The first page is on the screen (set by the refresh that drew it)."""
        return self._first_painted.is_set()

    def visible_rows(self) -> list[RunRow]:
        rows = filter_rows(self.rows, self.filter_text, self.tag)
        return sort_rows(rows, self.sort_key, self.sort_reverse, now=self.clock())

    def redraw(self) -> None:
        rows = self.visible_rows()
        table = self.query_one(RunsTable)
        table.show(rows, self.clock())
        count = f"{len(rows)}/{len(self.rows)} runs"
        if len(rows) > table.limit:
            count += f" (first {table.limit} shown: / filters, m shows more)"
        parts = [count, f"sort: {self.sort_key}{' desc' if self.sort_reverse else ''}"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self.tag:
            parts.append(f"tag: {self.tag}")
        parts.append(self.health_line)
        self.query_one(StatusBar).update("  |  ".join(parts))

    def record(self, run_id: str | None) -> Any:
        for row in self.rows:
            if row.run_id == run_id:
                return row.record
        return None

    @property
    def current(self) -> Any:
        return self.record(self.query_one(RunsTable).current_run_id)

    # -- filter / sort ---------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.value = self.filter_text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.redraw()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#filter", Input).remove_class("-visible")
        self.query_one(RunsTable).focus()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            self.filter_text = ""
            box.remove_class("-visible")
            self.query_one(RunsTable).focus()
            self.redraw()
            event.stop()

    def action_next_tag(self) -> None:
        tags = all_tags(self.rows)
        if not tags:
            self.tag = None
        elif self.tag not in tags:
            self.tag = tags[0]
        else:
            i = tags.index(self.tag) + 1
            self.tag = tags[i] if i < len(tags) else None
        self.redraw()

    def action_next_sort(self) -> None:
        i = SORT_KEYS.index(self.sort_key) + 1
        self.sort_key = SORT_KEYS[i % len(SORT_KEYS)]
        self.redraw()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.redraw()

    def action_refresh(self) -> None:
        self.refresh_runs()

    def action_more(self) -> None:
        self.query_one(RunsTable).limit += RunsTable.PAGE
        self.redraw()

    def action_mark(self) -> None:
        self.query_one(RunsTable).action_toggle_mark()

    def action_toggle_group(self) -> None:
        table = self.query_one(RunsTable)
        table.grouped = not table.grouped
        self.redraw()

    # -- screens ---------------------------------------------------------------------------
    def action_open(self) -> None:
        if len(self.screen_stack) > 1:  # only the runs list opens runs
            return
        rec = self.current
        if rec is None:
            return
        # diff candidates: runs marked with space first (any experiment), then the same experiment's
        marked = self.query_one(RunsTable).marked
        first = [r.record for r in self.rows if r.run_id in marked]
        rest = [r.record for r in self.rows if r.record.experiment == rec.experiment and r.run_id not in marked]
        self.push_screen(RunScreen(self.backend, rec, first + rest))

    @on(RunsTable.Opened)
    def _opened(self, message: RunsTable.Opened) -> None:
        self.action_open()

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        ids = [r.run_id for r in self.visible_rows() if r.run_id in table.marked]
        if not ids and table.current_run_id:
            ids = [table.current_run_id]
        records = [self.record(i) for i in ids]
        if records:
            self.push_screen(CompareScreen(self.backend, records))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(screen_help(self.BINDINGS)))

    # -- actions with confirmation ---------------------------------------------------------
    def _confirm_then(self, verb: str, fn: Callable[[Any], str]) -> None:
        rec = self.screen.record if isinstance(self.screen, RunScreen) else self.current
        if rec is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(fn, rec)

        self.push_screen(ConfirmScreen(f"{verb} run {rec.name} ({rec.run_id})?"), answered)

    def action_cancel_run(self) -> None:
        self._confirm_then("Cancel", self.backend.cancel)

    def action_resubmit_run(self) -> None:
        self._confirm_then("Resubmit", self.backend.resubmit)

    @work(thread=True, group="action", exit_on_error=False)
    def _run_action(self, fn: Callable[[Any], str], rec: Any) -> None:
        try:
            text = fn(rec)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the UI keeps going
            self.post_message(ActionDone(f"{rec.name}: {exc}", error=True))
            return
        self.post_message(ActionDone(text))

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.text, severity="error" if message.error else "information")
        if message.refresh_after:
            self.refresh_runs()


def run_tui(runs_root: str | None = None, refresh_s: float = 5.0, screenshot_dir: str | None = None) -> None:
    """Entry point of `rcstudio tui`."""
    import os

    if runs_root:
        os.environ["RCSTUDIO_RUNS"] = str(runs_root)
    RcStudioApp(refresh_s=refresh_s, screenshot_dir=screenshot_dir).run()
