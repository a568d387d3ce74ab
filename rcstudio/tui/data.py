"""Pure helpers behind the runs table: rows from registry records, filtering, sorting, formatting.

Kept free of Textual so they are unit-testable and cheap: the table of 10,000 runs is built from
these in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLUMNS = ("name", "run_id", "kind", "engine", "point", "executor", "state", "elapsed", "reward/total",
           "reward/rationale", "eval")
HEADERS = ("Name", "Run id", "Kind", "Engine", "Swept", "Exec", "State", "Elapsed", "R total", "R rat", "Eval")
# widths at 160 columns; `layout` adapts them to the terminal (fixed widths: DataTable then never
# measures cells, which is what makes 10,000 rows paint fast)
WIDTHS = (30, 19, 11, 12, 16, 6, 9, 8, 7, 7, 24)
SORT_KEYS = ("created", "name", "state", "elapsed", "reward/total", "reward/rationale")
STATE_STYLE = {
    "RUNNING": "bold green",
    "PENDING": "yellow",
    "COMPLETED": "cyan",
    "FAILED": "bold red",
    "CANCELLED": "magenta",
    "TIMEOUT": "red",
    "UNKNOWN": "dim",
}
CELL_PAD = 2  # DataTable's cell padding (one space each side)
MARK_WIDTH = 1


@dataclass(frozen=True)
class Column:
    """A runs-table column: `priority` 0 is dropped last when the terminal is narrow; widths grow
    from `min` towards `max` (or the widest cell, when smaller) with the space left."""

    key: str
    header: str
    min: int
    max: int
    priority: int


BASE_COLUMNS = (
    Column("name", "Name", 12, 40, 0),
    Column("run_id", "Run id", 10, 30, 2),
    Column("kind", "Kind", 4, 11, 8),
    Column("engine", "Engine", 6, 12, 10),
    Column("point", "Swept", 6, 28, 5),
    Column("executor", "Exec", 4, 6, 9),
    Column("state", "State", 9, 9, 1),
    Column("elapsed", "Elapsed", 7, 8, 3),
    Column("reward/total", "R total", 7, 7, 6),
    Column("reward/rationale", "R rat", 7, 7, 7),
    Column("eval", "Eval", 8, 60, 4),
)
MAX_SWEPT_COLUMNS = 3
@dataclass
class RunRow:
    """What one table row shows; `metrics` are the latest W&B values (may be empty)."""

    record: Any
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def elapsed(self, now: float) -> float | None:
        rec = self.record
        if rec.started_at is None:
            return None
        end = rec.ended_at if rec.ended_at is not None else now
        return max(0.0, end - rec.started_at)


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02d}h"
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_point(point: dict[str, Any]) -> str:
    """Swept values, short: `reward.alpha=0.8` -> `alpha=0.8`."""
    return " ".join(f"{key.rsplit('.', 1)[-1]}={_fmt_value(value)}" for key, value in sorted(point.items()))


def is_sweep_point(rec: Any) -> bool:
    """True for a sweep point; False for a plain run and for a variant (whose `point` holds its
    overrides: a variant is an extra run, not a position in the sweep). Sweep points are named
    `<experiment>-<point label>` (rcstudio.spec.labels, used by rcstudio.spec.sweep.expand)."""
    point = getattr(rec, "point", None) or {}
    if not point:
        return False
    from rcstudio.spec.labels import point_label

    if rec.name == f"{rec.experiment}-{point_label(point)}":
        return True
    # names written with another number format (`alpha1` for 1.0): the label starts with the key
    first = next(iter(point)).rsplit(".", 1)[-1]
    return rec.name.startswith(f"{rec.experiment}-{first}")


def variant_name(rec: Any) -> str | None:
    """A variant run's variant (`quickstart-tiny-trl` -> `tiny-trl`), None for other runs."""
    if not getattr(rec, "point", None) or is_sweep_point(rec):
        return None
    prefix = f"{rec.experiment}-"
    return rec.name.removeprefix(prefix)


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_metric(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, (int, float)):
        return f"{value:.3f}" if isinstance(value, float) else str(value)
    return str(value)[:8]


_EVAL_PREFERENCE = ("/rc", "/micro", "/overall", "/score")


def eval_cell(metrics: dict[str, Any]) -> str:
    """The headline eval metric in full: per-judge RC first (the quickstart's point:
    `hs3_atomic rc: evidence-judge=0.858 surface-judge=0.221`), then a benchmark's overall score,
    else the first eval keys."""
    keys = sorted(k for k in metrics if k.startswith("eval/"))
    if not keys:
        return "-"
    for suffix in _EVAL_PREFERENCE:
        preferred = [k for k in keys if k.endswith(suffix)]
        if preferred:
            keys = preferred
            break
    parts = [k[5:].split("/") for k in keys]
    if len(keys) > 1 and all(len(p) == 3 for p in parts) and len({(p[0], p[2]) for p in parts}) == 1:
        bench, metric = parts[0][0], parts[0][2]
        return f"{bench} {metric}: " + " ".join(f"{p[1]}={format_metric(metrics[k])}" for p, k in zip(parts, keys))
    shown = [f"{k[5:]}={format_metric(metrics[k])}" for k in keys[:2]]
    return " ".join(shown) + (" ..." if len(keys) > 2 else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def swept_keys(rows: list[RunRow]) -> list[str]:
    """Dotted keys swept among these rows' sweep points (variants excluded), in first-seen order."""
    keys: dict[str, None] = {}
    for row in rows:
        if is_sweep_point(row.record):
            keys.update(dict.fromkeys(row.record.point))
    return list(keys)


def table_columns(rows: list[RunRow]) -> list[Column]:
    """The base columns with `Swept` replaced by one column per swept key (`alpha`, `lr`) when
    the shown rows sweep at most MAX_SWEPT_COLUMNS keys."""
    keys = swept_keys(rows)
    if not keys or len(keys) > MAX_SWEPT_COLUMNS:
        return list(BASE_COLUMNS)
    out: list[Column] = []
    for col in BASE_COLUMNS:
        if col.key == "point":
            out.extend(Column(f"point:{k}", k.rsplit(".", 1)[-1], 5, 12, 5) for k in keys)
        else:
            out.append(col)
    return out


def layout(columns: list[Column], width: int, content: dict[str, int] | None = None) -> list[tuple[Column, int]]:
    """Columns that fit `width` terminal cells, with their widths (pure).

    Greedy by priority (the state stays at 80 columns): each column gets the width its widest
    cell wants (`content`, within its min and max) while space lasts, squeezed down to its
    minimum for the last that fits; columns that do not fit are left out."""
    content = content or {}
    left = width - MARK_WIDTH - CELL_PAD - 2  # the mark column and a scrollbar's worth
    widths: dict[str, int] = {}
    for col in sorted(columns, key=lambda c: c.priority):
        want = min(col.max, max(col.min, content.get(col.key, col.max), len(col.header)))
        give = min(want, left - CELL_PAD)
        if give < col.min:
            continue
        widths[col.key] = give
        left -= give + CELL_PAD
    return [(c, widths[c.key]) for c in columns if c.key in widths]


def cell_text(row: RunRow, key: str, now: float) -> str:
    """One cell's text, unclipped."""
    rec = row.record
    if key == "name":
        return rec.name
    if key == "run_id":
        return rec.run_id
    if key == "kind":
        return rec.kind
    if key == "engine":
        return rec.engine or "-"
    if key == "point":
        variant = variant_name(rec)
        return f"variant {variant}" if variant else (format_point(rec.point) or "-")
    if key.startswith("point:"):
        if not is_sweep_point(rec):
            return "-"
        value = rec.point.get(key[6:])
        return "-" if value is None else _fmt_value(value)
    if key == "executor":
        return rec.executor
    if key == "state":
        return rec.state
    if key == "elapsed":
        return format_elapsed(row.elapsed(now))
    if key == "eval":
        return eval_cell(row.metrics)
    return format_metric(row.metrics.get(key))


def content_widths(rows: list[RunRow], columns: list[Column], now: float) -> dict[str, int]:
    """The widest cell per column (what `layout` grows columns to)."""
    return {c.key: max([len(cell_text(r, c.key, now)) for r in rows] + [len(c.header)]) for c in columns}


def row_cells(row: RunRow, now: float, widths: list[tuple[Column, int]] | None = None) -> tuple[str, ...]:
    """The row's cells for `widths` (default: every base column at its 160-column width), each
    clipped to its column with a `~`, except ids (shown whole: they tell runs apart)."""
    if widths is None:
        widths = list(zip(BASE_COLUMNS, WIDTHS))
    return tuple(_clip_left(cell_text(row, c.key, now), w) if c.key == "run_id" else _clip(cell_text(row, c.key, now), w)
                 for c, w in widths)


def _clip_left(text: str, width: int) -> str:
    """Run ids differ at their end (`quickstart-1c24b59e`): a narrow column keeps the tail."""
    return text if len(text) <= width else "~" + text[len(text) - width + 1:]


_STATE_SHORT = {"COMPLETED": "done", "RUNNING": "run", "PENDING": "pend", "FAILED": "fail", "CANCELLED": "canc",
                "TIMEOUT": "tout", "UNKNOWN": "?"}


def _order(value: Any) -> tuple[int, Any]:
    """Numbers before text, each in its natural order."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


@dataclass(frozen=True)
class GroupHeader:
    """A separator row of the grouped view: one experiment, its run count and states."""

    experiment: str
    count: int
    states: tuple[tuple[str, int], ...]

    @property
    def run_id(self) -> str:  # the row key; never a real run id (those have no `:`)
        return f"experiment:{self.experiment}"

    def text(self) -> str:
        return f"▾ {self.experiment} ({self.count})"

    def states_text(self) -> str:
        """`done 1 run 1 fail 1`: how the experiment's runs stand, short enough for a column."""
        return " ".join(f"{_STATE_SHORT.get(s, s.lower())} {n}" for s, n in self.states)


def group_by_experiment(rows: list[RunRow]) -> list[RunRow | GroupHeader]:
    """Rows grouped under one header per experiment (experiments in order of their first row,
    rows keeping their order inside a group; sweep points by their swept values)."""
    groups: dict[str, list[RunRow]] = {}
    for row in rows:
        groups.setdefault(row.record.experiment, []).append(row)
    out: list[RunRow | GroupHeader] = []
    for experiment, members in groups.items():
        points = [r for r in members if is_sweep_point(r.record)]
        if len(points) == len(members) and points:
            members = sorted(members, key=lambda r: [_order(v) for v in r.record.point.values()])
        counts: dict[str, int] = {}
        for r in members:
            counts[r.record.state] = counts.get(r.record.state, 0) + 1
        out.append(GroupHeader(experiment, len(members), tuple(sorted(counts.items()))))
        out.extend(members)
    return out


def matches(row: RunRow, text: str) -> bool:
    """Filter text: words all must match (name, kind, engine, state, executor, swept values, id);
    `tag:X` keeps runs tagged X, `state:X` keeps runs in state X."""
    rec = row.record
    haystack = " ".join(
        [rec.run_id, rec.name, rec.kind, rec.engine or "", rec.state, rec.executor, rec.experiment, format_point(rec.point)]
    ).lower()
    for word in text.lower().split():
        if word.startswith("tag:"):
            if word[4:] not in [t.lower() for t in rec.tags]:
                return False
        elif word.startswith("state:"):
            if rec.state.lower() != word[6:]:
                return False
        elif word not in haystack:
            return False
    return True


def filter_rows(rows: list[RunRow], text: str = "", tag: str | None = None) -> list[RunRow]:
    out = [r for r in rows if matches(r, text)] if text.strip() else list(rows)
    if tag:
        out = [r for r in out if tag in r.record.tags]
    return out


def sort_rows(rows: list[RunRow], key: str, reverse: bool = False, now: float = 0.0) -> list[RunRow]:
    """Sort by a SORT_KEYS entry; rows without a value go last whatever the direction."""

    def value(row: RunRow) -> Any:
        rec = row.record
        if key == "created":
            return rec.created_at
        if key == "name":
            return rec.name
        if key == "state":
            return rec.state
        if key == "elapsed":
            return row.elapsed(now)
        v = row.metrics.get(key)
        return v if isinstance(v, (int, float)) else None

    keyed = [(value(r), r) for r in rows]  # each value computed once
    present = sorted(((v, r) for v, r in keyed if v is not None), key=lambda p: p[0], reverse=reverse)
    return [r for _, r in present] + [r for v, r in keyed if v is None]


def all_tags(rows: list[RunRow]) -> list[str]:
    return sorted({t for r in rows for t in r.record.tags})
