"""Small widgets of the dashboard: the runs table, the status bar and a metric chart."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static
from textual_plotext import PlotextPlot

from rcstudio.tracking.source import Series
from rcstudio.tui.data import (
    STATE_STYLE,
    Column,
    GroupHeader,
    RunRow,
    content_widths,
    group_by_experiment,
    layout,
    row_cells,
    table_columns,
)


class RunsTable(DataTable):
    """One row per registry run; row keys are run ids. Marked rows (space) feed the compare view.

    Columns adapt to the terminal (`data.layout`: the state column survives 80x24) and to the
    rows (one column per swept key). `grouped` puts runs under one header row per experiment."""

    class Opened(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    PAGE = 200  # rows drawn at once; `m` draws more (a filter is the better tool past that)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.marked: set[str] = set()
        self._rows: list[RunRow | GroupHeader] = []
        self._source: list[RunRow] = []
        self._now = 0.0
        self.limit = self.PAGE
        self.grouped = False
        self._cells_shown: list[list[Any]] = []
        self._layout: list[tuple[Column, int]] = []
        self._keys: list[str] = []

    def _fit(self, rows: list[RunRow], now: float) -> bool:
        """Recompute the columns for the terminal width and rows; True when they changed."""
        columns = table_columns(rows)
        width = self.size.width or self.app.size.width or 160
        new = layout(columns, width, content_widths(rows, columns, now))
        if new == self._layout:
            return False
        self._layout = new
        self._keys = ["mark", *(c.key for c, _ in new)]
        self.clear(columns=True)
        self.add_column("", key="mark", width=1)
        for col, w in new:
            self.add_column(col.header, key=col.key, width=w)
        self._rows, self._cells_shown = [], []
        return True

    def on_resize(self) -> None:
        if self._source or self._layout:
            self.show(self._source, self._now)

    def show(self, rows: list[RunRow], now: float) -> None:
        """Show `rows` (at most `limit`). Same runs in the same order (a periodic refresh): only
        changed cells are updated; otherwise the table is rebuilt, the cursor staying on its run."""
        self._source, self._now = rows, now
        rows = rows[: self.limit]
        self._fit(rows, now)
        items: list[RunRow | GroupHeader] = group_by_experiment(rows) if self.grouped else list(rows)
        cells = [self._cells(item, now) for item in items]
        if [r.run_id for r in items] == [r.run_id for r in self._rows] and items:
            for item, new, old in zip(items, cells, self._cells_shown):
                for column, (a, b) in enumerate(zip(new, old)):
                    if a != b:
                        self.update_cell(item.run_id, self._keys[column], a)
            self._rows, self._cells_shown = items, cells
            return
        current = self.current_run_id
        self._rows, self._cells_shown = items, cells
        self.clear()
        for item, item_cells in zip(items, cells):
            self.add_row(*item_cells, key=item.run_id)
        ids = [r.run_id for r in items]
        if current is not None and current in ids:
            self.move_cursor(row=ids.index(current))
        elif self.grouped and len(items) > 1:
            self.move_cursor(row=1)

    def _cells(self, item: RunRow | GroupHeader, now: float) -> list[Any]:
        if isinstance(item, GroupHeader):
            cells: list[Any] = [""] * len(self._keys)
            cells[1] = Text(item.text(), style="bold")
            where = self._keys.index("run_id") if "run_id" in self._keys else (2 if len(cells) > 2 else None)
            if where is not None:
                cells[where] = Text(item.states_text(), style="dim")
            return cells
        cells = ["*" if item.run_id in self.marked else "", *row_cells(item, now, self._layout)]
        if "state" in self._keys:
            i = self._keys.index("state")
            cells[i] = Text(cells[i], style=STATE_STYLE.get(cells[i], ""))
        return cells

    def cell(self, row: int, key: str) -> str:
        """The text shown in a row's column (`key` as in data.COLUMNS); '' when the column is hidden."""
        if key not in self._keys:
            return ""
        return str(self.get_row_at(row)[self._keys.index(key)])

    @property
    def columns_shown(self) -> list[str]:
        return list(self._keys[1:])

    @property
    def current_run_id(self) -> str | None:
        """The run under the cursor (None on a group header or an empty table)."""
        if not self._rows or self.cursor_row is None or self.cursor_row >= len(self._rows):
            return None
        item = self._rows[self.cursor_row]
        return None if isinstance(item, GroupHeader) else item.run_id

    def action_toggle_mark(self) -> None:
        run_id = self.current_run_id
        if run_id is None:
            return
        self.marked ^= {run_id}
        mark = "*" if run_id in self.marked else ""
        self.update_cell(run_id, "mark", mark)
        self._cells_shown[self.cursor_row][0] = mark

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.current_run_id is not None:
            self.post_message(self.Opened(str(event.row_key.value)))


class StatusBar(Static):
    """One line: counts, filter, and whether Slurm / W&B are slow or unreachable."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-degraded { background: $warning 40%; }
    """


class MetricChart(PlotextPlot):
    """Several runs' series of one or more metrics, downsampled to the width before plotting."""

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = "step"
        self.empty_text = "no data yet"
        self._series: list[tuple[str, Series]] = []

    def samples(self) -> int:
        """Points per series worth drawing: two per terminal cell of width (braille resolution)."""
        return max(40, 2 * (self.size.width or 80))

    def set_series(self, series: list[tuple[str, Series]], title: str | None = None) -> None:
        self._series = series
        if title is not None:
            self.title = title
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self.xlabel)
        drawn = 0
        for label, s in self._series:
            if len(s) == 1:  # a final value (eval result): one visible point, not an invisible line
                plt.scatter(s.steps.tolist(), s.values.tolist(), label=label, marker="dot")
                drawn += 1
            elif len(s):
                plt.plot(s.steps.tolist(), s.values.tolist(), label=label, marker="braille")
                drawn += 1
        if not drawn:
            plt.title(f"{self.title} ({self.empty_text})")
        elif self.xlabel == "step":
            ticks = integer_ticks([float(x) for _, s in self._series for x in s.steps.tolist()])
            if ticks:
                plt.xticks(ticks, [str(t) for t in ticks])
        self.refresh()


def integer_ticks(xs: list[float], count: int = 5) -> list[int]:
    """About `count` whole-number ticks over the range of `xs` (steps are counted, never 9.8)."""
    if not xs:
        return []
    lo, hi = int(min(xs)), int(max(xs) + 0.999)
    if hi <= lo:
        return [lo]
    step = max(1, round((hi - lo) / (count - 1)))
    ticks = list(range(lo, hi + 1, step))
    if ticks[-1] != hi and hi - ticks[-1] > step / 2:
        ticks.append(hi)
    return ticks


class MetricTile(Vertical):
    """One key metric of a run: its name and last value, and a sparkline of its history."""

    DEFAULT_CSS = """
    MetricTile { width: 1fr; height: 2; padding: 0 1 0 0; }
    MetricTile > Static { height: 1; }
    MetricTile > Sparkline { height: 1; }
    """

    def __init__(self, key: str, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.label = label

    def compose(self) -> ComposeResult:
        yield Static(f"{self.label} -", classes="tile-value", markup=False)
        yield Sparkline([], summary_function=max)

    def set_series(self, series: Series | None) -> None:
        values = [] if series is None else [float(v) for v in series.values.tolist() if not math.isnan(v)]
        last = f"{values[-1]:.3f}" if values else "-"
        self.query_one(Static).update(f"{self.label} {last}")
        self.query_one(Sparkline).data = values[-60:]


class ScatterPlot(PlotextPlot):
    """Labelled points (the paper's figure 1: OA on x, RC on y, one point per judge)."""

    def __init__(self, title: str = "", xlabel: str = "", ylabel: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.points: list[tuple[str, float, float]] = []

    def set_points(self, points: list[tuple[str, float, float]], title: str | None = None) -> None:
        self.points = points
        if title is not None:
            self.title = title
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title if points else f"{self.title} (no results)")
        plt.xlabel(self.xlabel)
        plt.ylabel(self.ylabel)
        if points:
            for label, x, y in points:
                plt.scatter([x], [y], label=label, marker="dot")
            plt.xlim(0.0, 1.0)
            plt.ylim(0.0, 1.0)
        self.refresh()
