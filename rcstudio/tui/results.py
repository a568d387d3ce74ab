"""What a finished run found, for the run screen: the per-judge table of eval runs (the paper's
OA-vs-RC comparison) and the last training values. Pure reading of `results/*.json`, no Textual.

Sources: `results/summary.json` (`benchmarks["hs3-atomic"][judge]` metric objects with
mean/ci_low/ci_high, and `metrics` = the flat `eval/...` values that went to W&B) and
`results/train_summary.json` (TRL engine: `last_rewards`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HS3 = "hs3-atomic"


@dataclass(frozen=True)
class JudgeRow:
    """One judge of an hs3-atomic eval (fractions in [0, 1])."""

    judge: str
    items: int | None
    oa: float | None
    rc: float | None
    rc_ci: tuple[float, float] | None
    precision: float | None
    ap: float | None
    reward: float | None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _mean(obj: Any) -> float | None:
    if isinstance(obj, dict):
        obj = obj.get("mean")
    return float(obj) if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def judge_rows(run_dir: str | Path) -> list[JudgeRow]:
    """Per-judge rows of an eval run's hs3-atomic results (empty when there are none)."""
    summary = _read(Path(run_dir) / "results" / "summary.json")
    judges = (summary.get("benchmarks") or {}).get(HS3) or {}
    rows = []
    for judge, res in sorted(judges.items()):
        if not isinstance(res, dict):
            continue
        rc = res.get("rc") if isinstance(res.get("rc"), dict) else {}
        ci = (float(rc["ci_low"]), float(rc["ci_high"])) if rc.get("ci_low") is not None and rc.get("ci_high") is not None else None
        items = res.get("valid", res.get("items"))
        rows.append(JudgeRow(judge, items if isinstance(items, int) else None, _mean(res.get("oa")), _mean(rc),
                             ci, _mean(res.get("precision")), _mean(res.get("ap")), _mean(res.get("reward"))))
    return rows


def eval_metrics(run_dir: str | Path) -> dict[str, float]:
    """The flat `eval/...` values an eval run logged (summary.json `metrics`)."""
    metrics = _read(Path(run_dir) / "results" / "summary.json").get("metrics") or {}
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def train_values(run_dir: str | Path) -> dict[str, Any]:
    """A TRL run's `results/train_summary.json` (empty when absent)."""
    return _read(Path(run_dir) / "results" / "train_summary.json")


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    """`[0.82, 0.89]`: the same two decimals `submit --wait` prints."""
    return "-" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
