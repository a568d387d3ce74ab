"""Small widgets of the dashboard: the runs table, the status bar and a metric chart."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from rcstudio.tracking.source import Series
from rcstudio.tui.data import COLUMNS, HEADERS, STATE_STYLE, WIDTHS, RunRow, row_cells

_STATE = 1 + COLUMNS.index("state")  # cell index of the state (after the mark column)


class RunsTable(DataTable):
    """One row per registry run; row keys are run ids. Marked rows (space) feed the compare view."""

    class Opened(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    BINDINGS = [("space", "toggle_mark", "Mark")]
    PAGE = 200  # rows drawn at once; `m` draws more (a filter is the better tool past that)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.marked: set[str] = set()
        self._rows: list[RunRow] = []
        self.limit = self.PAGE
        self._cells_shown: list[list[Any]] = []
        self._keys = ["mark", *HEADERS]

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        for header, width in zip(HEADERS, WIDTHS):
            self.add_column(header, key=header, width=width)

    def show(self, rows: list[RunRow], now: float) -> None:
        """Show `rows` (at most `limit`). Same runs in the same order (a periodic refresh): only
        changed cells are updated; otherwise the table is rebuilt, the cursor staying on its run."""
        rows = rows[: self.limit]
        cells = [self._cells(row, now) for row in rows]
        if [r.run_id for r in rows] == [r.run_id for r in self._rows] and rows:
            for row, new, old in zip(rows, cells, self._cells_shown):
                for column, (a, b) in enumerate(zip(new, old)):
                    if a != b:
                        self.update_cell(row.run_id, self._keys[column], a)
            self._rows, self._cells_shown = rows, cells
            return
        current = self.current_run_id
        self._rows, self._cells_shown = rows, cells
        self.clear()
        for row, row_cells_ in zip(rows, cells):
            self.add_row(*row_cells_, key=row.run_id)
        if current is not None:
            ids = [r.run_id for r in rows]
            if current in ids:
                self.move_cursor(row=ids.index(current))

    def _cells(self, row: RunRow, now: float) -> list[Any]:
        cells: list[Any] = ["*" if row.run_id in self.marked else "", *row_cells(row, now)]
        cells[_STATE] = Text(cells[_STATE], style=STATE_STYLE.get(cells[_STATE], ""))
        return cells

    @property
    def current_run_id(self) -> str | None:
        if not self._rows or self.cursor_row is None or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row].run_id

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
        plt.xlabel("step")
        drawn = 0
        for label, s in self._series:
            if len(s):
                plt.plot(s.steps.tolist(), s.values.tolist(), label=label, marker="braille")
                drawn += 1
        if not drawn:
            plt.title(f"{self.title} (no data yet)")
        self.refresh()
