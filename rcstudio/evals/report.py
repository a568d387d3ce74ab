"""`rcstudio report`: eval runs side by side in the paper's table 2 layout.

Columns: RM-Bench chat, math, code, safety, overall; JudgeBench knowledge, reasoning, math,
coding, overall (micro, as the paper's own rows); total = mean of the two overalls; then
HelpSteer3-Atomic rationale consistency and outcome accuracy (as percent here, to share the
table's scale); then the share of judge calls that failed and of replies without a parsable verdict
(percent over the run's live benchmarks; for stored JudgeBench decisions, the missing ones), so a
judge that never followed the format reads as "unparsed 100.0", not as a plain 0.0 score. A cell a
run did not measure prints as "-". Rows are labelled by run id (two runs of one spec differ) and come
from each run's `results/summary.json`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

from rcstudio.errors import UserError

FORMATS = ("text", "markdown", "csv")
COLUMNS = (
    ("rmbench/chat", "RM chat"),
    ("rmbench/math", "RM math"),
    ("rmbench/code", "RM code"),
    ("rmbench/safety", "RM safety"),
    ("rmbench/overall", "RM-Bench"),
    ("judgebench/knowledge", "JB knowl."),
    ("judgebench/reasoning", "JB reason."),
    ("judgebench/math", "JB math"),
    ("judgebench/coding", "JB coding"),
    ("judgebench/overall", "JudgeBench"),
    ("total", "Avg"),
    ("hs3/rc", "HS3 RC"),
    ("hs3/oa", "HS3 OA"),
    ("calls/failed", "Failed %"),
    ("calls/unparsed", "Unparsed %"),
)


@dataclass
class ReportRow:
    name: str  # the row label: run id (`run_id/judge` when a run scored several judges)
    run_dir: str
    cells: dict[str, float | None] = field(default_factory=dict)
    experiment: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "run_dir": self.run_dir, "experiment": self.experiment,
                **{k: self.cells.get(k) for k, _ in COLUMNS}}


def _run_dir(ref: str, lookup: Callable[[str], tuple[str, str, Path]] | None) -> tuple[str, str, Path]:
    """(run id, experiment name, run dir) of a run directory as given, else of the registry entry
    `lookup` finds (the CLI passes it: evals/ does not depend on launch/)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.name, "", path
    if lookup is None:
        raise UserError(f"{ref!r} is not a run directory and no run registry was given to look it up", key="RUN")
    return lookup(ref)


def failure_cells(benchmarks: dict, judge: str | None = None) -> dict[str, float | None]:
    """`calls/failed` and `calls/unparsed` in percent for one judge (default: each benchmark's first):
    pooled over the live benchmarks' call counts; stored JudgeBench decisions give their missing share."""
    n = failed = unparsed = 0
    stored_missing: float | None = None
    for bench, judges in benchmarks.items():
        res = judges.get(judge) if judge is not None else next(iter(judges.values()), None)
        if not isinstance(res, dict):
            continue
        calls = res.get("calls") or (res.get("settings") or {}).get("calls")
        if isinstance(calls, dict) and calls.get("n"):
            n += int(calls["n"])
            failed += int(calls.get("call_failures") or 0)
            unparsed += int(calls.get("parse_failures") or 0)
        elif bench == "judgebench" and isinstance(res.get("failures"), (int, float)):
            stored_missing = float(res["failures"])
    if n:
        return {"calls/failed": round(100 * failed / n, 2), "calls/unparsed": round(100 * unparsed / n, 2)}
    return {"calls/failed": None, "calls/unparsed": stored_missing}


def load_rows(ref: str, lookup: Callable[[str], tuple[str, str, Path]] | None = None) -> list[ReportRow]:
    """A registry run id (or unique prefix / name) or a run directory -> its table 2 rows: one per
    judge when the run scored several stored judges (named `run/judge`), else one."""
    name, experiment, run_dir = _run_dir(ref, lookup)
    summary_path = run_dir / "results" / "summary.json"
    if not summary_path.is_file():
        raise UserError(f"run {name} has no eval results ({summary_path} is missing)", key="RUN",
                        hint="report reads eval runs that finished; `rcstudio status` shows the run's state")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"unreadable results: {exc.msg}", file=summary_path, line=exc.lineno) from None
    from rcstudio.evals.job import table2_judges, table2_numbers

    benchmarks = summary.get("benchmarks", {})
    judges = table2_judges(benchmarks)
    if len(judges) <= 1:
        return [ReportRow(name, str(run_dir), {**table2_numbers(benchmarks), **failure_cells(benchmarks)}, experiment)]
    return [ReportRow(f"{name}/{j}", str(run_dir), {**table2_numbers(benchmarks, j), **failure_cells(benchmarks, j)},
                      experiment) for j in judges]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def render(rows: list[ReportRow], fmt: str = "text") -> str:
    """The table as plain text, GitHub markdown or CSV (CSV keeps full precision, empty = missing)."""
    headers = ["run"] + [h for _, h in COLUMNS]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["run"] + [k for k, _ in COLUMNS])
        for r in rows:
            w.writerow([r.name] + ["" if r.cells.get(k) is None else r.cells[k] for k, _ in COLUMNS])
        return buf.getvalue()
    body = [[r.name] + [_fmt(r.cells.get(k)) for k, _ in COLUMNS] for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * len(COLUMNS)) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise UserError(f"unknown format {fmt!r}", key="--format", hint="use text, markdown or csv")
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    fmt_row = lambda cells: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])  # noqa: E731
                                      for i, c in enumerate(cells))
    lines = [fmt_row(headers), "  ".join("-" * w for w in widths)] + [fmt_row(b) for b in body]
    return "\n".join(lines) + "\n"
