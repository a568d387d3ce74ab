"""What finished runs found, as tables: judges' OA vs RC for eval runs, last rewards for training
(`results_table`), and JudgeBench / RM-Bench scores with their failed and unparsed calls
(`benchmark_table`).

`rcstudio submit --wait` (and anything else that has run dirs) calls `results_table(run_dirs)` to
end with the numbers people came for instead of only run states. Reads the files jobs write:
`results/summary.json` (eval jobs: `benchmarks["hs3-atomic"][judge]` metric objects with
mean/ci_low/ci_high) and `results/train_summary.json` (TRL engine). Pure reading, no rcstudio state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HS3 = "hs3-atomic"


@dataclass(frozen=True)
class ResultRow:
    """One line of the table: a judge of an eval run, or a training run."""

    run: str
    subject: str  # judge name, or "train (step N)"
    oa: float | None = None
    rc: float | None = None
    rc_ci: tuple[float, float] | None = None
    ap: float | None = None
    reward: float | None = None
    format_errors: float | None = None
    items: int | None = None


def _mean(obj: Any) -> float | None:
    if isinstance(obj, dict):
        obj = obj.get("mean")
    return _num(obj)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def rows_for(run_dir: str | Path) -> list[ResultRow]:
    """The result rows of one run dir (empty when it wrote nothing we know)."""
    run_dir = Path(run_dir)
    rows: list[ResultRow] = []
    summary = _read(run_dir / "results" / "summary.json")
    judges = ((summary or {}).get("benchmarks") or {}).get(HS3) or {}
    for judge, res in sorted(judges.items()):
        if not isinstance(res, dict):
            continue
        rc = res.get("rc") if isinstance(res.get("rc"), dict) else {}
        low, high = rc.get("ci_low"), rc.get("ci_high")
        ci = (float(low), float(high)) if isinstance(low, (int, float)) and isinstance(high, (int, float)) else None
        rows.append(ResultRow(run_dir.name, judge, oa=_mean(res.get("oa")), rc=_mean(res.get("rc")), rc_ci=ci,
                              ap=_mean(res.get("ap")), reward=_mean(res.get("reward")),
                              items=_count(res.get("valid", res.get("items")))))
    train = _read(run_dir / "results" / "train_summary.json")
    if train:
        # the mean over the run's steps when the job wrote it (a tiny judge's last batch is often all
        # format errors: its zeros would read as "not computed"), else the last logged values
        last = train.get("mean_rewards") or train.get("last_rewards") or {}
        last = last if isinstance(last, dict) else {}
        what = f"mean of {train['reward_steps']} steps" if train.get("mean_rewards") and train.get("reward_steps") else "last"
        rows.append(ResultRow(run_dir.name, f"train (step {train.get('global_step')}, {what})",
                              oa=_num(last.get("reward/outcome")), rc=_num(last.get("reward/rc")),
                              ap=_num(last.get("reward/ap")), reward=_num(last.get("reward/total")),
                              format_errors=_num(last.get("reward/format_error_rate")),
                              items=_count(train.get("prompts"))))
    return rows


def results_table(run_dirs: Iterable[str | Path], title: str = "results") -> Any:
    """A rich Table of every run's rows, or None when no run wrote results."""
    from rich.markup import escape
    from rich.table import Table

    rows = [row for d in run_dirs for row in rows_for(d)]
    if not rows:
        return None

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    table = Table(title=title)
    for name in ("run", "judge / run", "items", "OA", "RC", "RC 95% CI", "AP", "reward", "format err."):
        table.add_column(name, justify="left" if name in ("run", "judge / run") else "right")
    for r in rows:
        ci = f"[{r.rc_ci[0]:.2f}, {r.rc_ci[1]:.2f}]" if r.rc_ci else "-"
        table.add_row(escape(r.run), escape(r.subject), "-" if r.items is None else str(r.items), f(r.oa), f(r.rc),
                      escape(ci), f(r.ap), f(r.reward), f(r.format_errors))
    return table


BENCHMARKS = {"judgebench": "micro", "rmbench": "overall"}


@dataclass(frozen=True)
class BenchRow:
    """One JudgeBench or RM-Bench result of a run: the score (percent), its breakdown, and the calls
    that failed / replies without a verdict (None for stored outputs, which made no calls)."""

    run: str
    benchmark: str
    judge: str
    score: float | None
    breakdown: str
    items: int | None = None
    failed: int | None = None
    unparsed: int | None = None
    calls: int | None = None


def _breakdown(benchmark: str, res: dict[str, Any]) -> str:
    if benchmark == "judgebench":
        parts = [f"{c} {v:.1f}" for c, v in (res.get("categories") or {}).items() if isinstance(v, (int, float))]
    else:
        parts = [f"{d} {v['score']:.1f}" for d, v in (res.get("domains") or {}).items()
                 if isinstance(v, dict) and isinstance(v.get("score"), (int, float))]
        parts += [f"{k} {res[k]:.1f}" for k in ("hard", "normal", "easy") if isinstance(res.get(k), (int, float))]
    return ", ".join(parts)


def bench_rows_for(run_dir: str | Path) -> list[BenchRow]:
    """JudgeBench / RM-Bench rows of one run dir (empty when it scored neither)."""
    run_dir = Path(run_dir)
    benchmarks = ((_read(run_dir / "results" / "summary.json") or {}).get("benchmarks")) or {}
    rows = []
    for bench, key in BENCHMARKS.items():
        for judge, res in (benchmarks.get(bench) or {}).items():
            if not isinstance(res, dict):
                continue
            calls = res.get("calls") if isinstance(res.get("calls"), dict) else {}
            items = res.get("n") if bench == "judgebench" else sum(
                int(d.get("n") or 0) for d in (res.get("domains") or {}).values() if isinstance(d, dict))
            live = res.get("judge") if isinstance(res.get("judge"), dict) else {}
            rows.append(BenchRow(run_dir.name, bench, str(live.get("model") or judge), _mean(res.get(key)),
                                 _breakdown(bench, res),
                                 items=items if isinstance(items, int) else None,
                                 failed=calls.get("call_failures"), unparsed=calls.get("parse_failures"),
                                 calls=calls.get("n")))
    return rows


def benchmark_table(run_dirs: Iterable[str | Path], title: str = "benchmarks") -> Any:
    """A rich Table of every run's JudgeBench / RM-Bench results, or None when there are none."""
    from rich.markup import escape
    from rich.table import Table

    rows = [row for d in run_dirs for row in bench_rows_for(d)]
    if not rows:
        return None

    def share(k: int | None, n: int | None) -> str:
        return "-" if k is None or not n else f"{k}/{n} {100 * k / n:.0f}%"

    table = Table(title=title)
    for name in ("run", "benchmark", "items", "score", "failed", "unparsed", "judge"):
        # ids and counts never wrap (a cut run id is useless); the judge name folds instead.
        # Per-category scores: `rcstudio report` (table 2 columns).
        if name == "judge":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right" if name in ("items", "score") else "left", no_wrap=True)
    for r in rows:
        table.add_row(escape(r.run), r.benchmark, "-" if r.items is None else str(r.items),
                      "-" if r.score is None else f"{r.score:.1f}", share(r.failed, r.calls),
                      share(r.unparsed, r.calls), escape(r.judge))
    return table
