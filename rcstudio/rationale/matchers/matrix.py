"""The matrix matcher: precomputed score matrices from a JSONL file (re-analysis without any model).

One line per item: `{"id": ..., "scores": [[...], ...], "outcome": 0|1 (optional)}` - rows are the
human items in order, columns the model reasons in the model's order, values in [0, 1].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rcstudio.errors import UserError
from rcstudio.rationale.matchers.base import BaseMatcher, MatchError, MatchRequest


@dataclass(frozen=True)
class MatchRecord:
    item_id: str
    scores: np.ndarray
    outcome: int | None
    line: int


@dataclass
class MatchFile:
    path: Path
    records: dict[str, MatchRecord]
    skipped: list[tuple[int, str]]


def _parse_line(raw: str) -> tuple[str, np.ndarray, int | None]:
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(rec, dict) or "id" not in rec or "scores" not in rec:
        raise ValueError('each line needs "id" and "scores"')
    scores = rec["scores"]
    if not isinstance(scores, list) or not all(isinstance(r, list) for r in scores):
        raise ValueError('"scores" must be a list of rows (human items) of numbers (model reasons)')
    widths = {len(r) for r in scores}
    if len(widths) > 1:
        raise ValueError(f'"scores" rows have different lengths {sorted(widths)}')
    try:
        arr = np.array(scores, dtype=float).reshape(len(scores), widths.pop() if widths else 0)
    except (TypeError, ValueError):
        raise ValueError('"scores" must hold numbers only') from None
    if arr.size and (np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1):
        raise ValueError('"scores" values must lie in [0, 1]')
    outcome = rec.get("outcome")
    if outcome is not None and (isinstance(outcome, bool) or outcome not in (0, 1)):
        raise ValueError('"outcome" must be 0 or 1')
    return str(rec["id"]), arr, None if outcome is None else int(outcome)


def load_match_file(path: str | Path) -> MatchFile:
    """Read a matches file; bad lines and duplicate ids are reported (line, reason), not dropped silently."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"matches file not found: {p}", file=p, key="reward.matcher.matches_file")
    records: dict[str, MatchRecord] = {}
    skipped: list[tuple[int, str]] = []
    with p.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                item_id, arr, outcome = _parse_line(raw)
            except ValueError as exc:
                skipped.append((lineno, str(exc)))
                continue
            if item_id in records:
                skipped.append((lineno, f"duplicate id {item_id!r} (first on line {records[item_id].line})"))
                continue
            records[item_id] = MatchRecord(item_id, arr, outcome, lineno)
    return MatchFile(p, records, skipped)


class MatrixMatcher(BaseMatcher):
    kind = "matrix"

    def __init__(self, source: str | Path | MatchFile) -> None:
        self.file = source if isinstance(source, MatchFile) else load_match_file(source)
        self.hits = 0
        self.misses = 0

    async def amatch_partial(self, requests: Sequence[MatchRequest]) -> list[np.ndarray | Exception]:
        out: list[np.ndarray | Exception] = []
        for req in requests:
            rec = self.file.records.get(str(req.item_id))
            if rec is None:
                self.misses += 1
                out.append(MatchError(f"no line with id {req.item_id!r} in {self.file.path}"))
                continue
            want = (len(req.human), len(req.model))
            if rec.scores.shape != want and not (rec.scores.size == 0 and 0 in want):
                self.misses += 1
                out.append(
                    MatchError(
                        f"{self.file.path}:{rec.line}: scores are {rec.scores.shape[0]}x{rec.scores.shape[1]} "
                        f"but the item has {want[0]} human items and {want[1]} model reasons"
                    )
                )
                continue
            self.hits += 1
            out.append(rec.scores.reshape(want))
        return out

    def stats(self) -> dict[str, float]:
        return {"hits": self.hits, "misses": self.misses, "latency_ms": 0.0, "cache_hit_rate": 0.0}
