"""Pure helpers behind the runs table: rows from registry records, filtering, sorting, formatting.

Kept free of Textual so they are unit-testable and cheap: the table of 10,000 runs is built from
these in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLUMNS = ("name", "kind", "engine", "point", "executor", "state", "elapsed", "reward/total", "reward/rationale", "eval")
HEADERS = ("Name", "Kind", "Engine", "Swept", "Exec", "State", "Elapsed", "R total", "R rat", "Eval")
# fixed widths: DataTable then never measures cells, which is what makes 10,000 rows paint fast
WIDTHS = (34, 11, 12, 16, 6, 9, 8, 7, 7, 24)
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


def eval_cell(metrics: dict[str, Any]) -> str:
    """The first eval metric, `bench/metric=value`."""
    for key in sorted(metrics):
        if key.startswith("eval/"):
            return f"{key[5:]}={format_metric(metrics[key])}"
    return "-"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def row_cells(row: RunRow, now: float) -> tuple[str, ...]:
    rec = row.record
    return (
        _clip(rec.name, WIDTHS[0]),
        rec.kind,
        rec.engine or "-",
        _clip(format_point(rec.point) or "-", WIDTHS[3]),
        rec.executor,
        rec.state,
        format_elapsed(row.elapsed(now)),
        format_metric(row.metrics.get("reward/total")),
        format_metric(row.metrics.get("reward/rationale")),
        eval_cell(row.metrics),
    )


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
