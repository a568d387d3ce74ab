"""JudgeBench (Tan et al. 2024): loader and the official scorer.

Protocol (method.md 9): each pair is judged in both orders; the decision on the swapped order is
flipped back; counter = +1 per decision equal to the label, -1 per decision equal to the opposite,
0 for a tie or a failure; a pair is correct iff counter > 0. Micro = over pairs, macro = mean of
the four categories (knowledge = mmlu-pro-*, reasoning, math, coding).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rcstudio.errors import UserError
from rcstudio.evals import verdicts
from rcstudio.evals.records import Record, read_records, unique_ids

CATEGORIES = ("knowledge", "reasoning", "math", "coding")
_EXACT = {"livebench-reasoning": "reasoning", "livebench-math": "math", "livecodebench": "coding"}


def category_of(source: str) -> str:
    """JudgeBench category of a pair's `source` field; ValueError for an unknown source."""
    if source.startswith("mmlu-pro"):
        return "knowledge"
    if source in _EXACT:
        return _EXACT[source]
    raise ValueError(f"unknown JudgeBench source {source!r}")


@dataclass(frozen=True)
class JudgeBenchPair:
    """One pair of a JudgeBench split file (`judgebench_<response_model>.jsonl`)."""

    pair_id: str
    source: str
    label: str  # "A>B" or "B>A"
    question: str
    response_a: str
    response_b: str
    response_model: str = ""

    @property
    def category(self) -> str:
        return category_of(self.source)


@dataclass(frozen=True)
class DecisionRow:
    """A judge's two decisions on one pair: [original order, as given on the swapped order]."""

    pair_id: str
    source: str
    label: str
    decisions: tuple[str | None, str | None]
    judge: str = ""
    line: int = 0


@dataclass
class JudgeBenchResult:
    """Scores in percent. `inconsistent`: pairs whose two flipped-back decisions differ (both
    parsed); `ties` / `failures`: share of the 2N decisions that are `A=B` / missing."""

    micro: float
    macro: float
    categories: dict[str, float]
    inconsistent: float
    ties: float
    failures: float
    n: int
    correct: int
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "micro": self.micro,
            "macro": self.macro,
            "categories": dict(self.categories),
            "inconsistent": self.inconsistent,
            "ties": self.ties,
            "failures": self.failures,
            "n": self.n,
            "correct": self.correct,
            "counts": dict(self.counts),
        }


def _label(record: Record, key: str = "label") -> str:
    raw = record.require(key, str)
    try:
        label = verdicts.direction(verdicts.normalize(raw))
    except ValueError as exc:
        raise record.fail(str(exc), key=key) from None
    if label not in ("A>B", "B>A"):
        raise record.fail(f"a JudgeBench label is A>B or B>A, got {raw!r}", key=key)
    return label


def _source(record: Record) -> str:
    source = record.require("source", str)
    try:
        category_of(source)
    except ValueError as exc:
        raise record.fail(str(exc), key="source", hint="sources are mmlu-pro-*, livebench-reasoning, "
                          "livebench-math or livecodebench") from None
    return source


def load_pairs(path: str | Path) -> list[JudgeBenchPair]:
    """A JudgeBench split (pair_id, source, label, question, response_A, response_B)."""
    pairs: list[JudgeBenchPair] = []
    for rec, pair_id in unique_ids(read_records(path), "pair_id"):
        pairs.append(
            JudgeBenchPair(
                pair_id=pair_id,
                source=_source(rec),
                label=_label(rec),
                question=rec.require("question", str),
                response_a=rec.require("response_A", str),
                response_b=rec.require("response_B", str),
                response_model=str(rec.data.get("response_model", "")),
            )
        )
    return pairs


def _decisions(rec: Record) -> tuple[str | None, str | None]:
    if "decisions" not in rec.data and isinstance(rec.data.get("judgments"), list):
        # JudgeBench's own output files: judgments = [{"judgment": ..., "decision": ...}, ...]
        rec.data["decisions"] = [j.get("decision") if isinstance(j, dict) else None for j in rec.data["judgments"]]
    raw = rec.require("decisions", list)
    if len(raw) != 2:
        raise rec.fail(f"'decisions' holds {len(raw)} values; expected 2 (original order, swapped order)",
                       key="decisions")
    try:
        d = [verdicts.direction(verdicts.normalize(v)) for v in raw]
    except ValueError as exc:
        raise rec.fail(str(exc), key="decisions") from None
    return d[0], d[1]


def load_decisions(
    path: str | Path, data: Sequence[JudgeBenchPair] | None = None, judge: str | None = None
) -> dict[str, list[DecisionRow]]:
    """Decision rows grouped by `judge` ("" when rows carry none).

    With `data` (a split), labels and sources come from it; a row's own label must agree, a pair
    missing from the split is an error, and pairs of the split a judge never decided count as two
    failures each (the denominator stays the split's size, as in the official scorer). `judge`
    keeps only that judge's rows.
    """
    by_id = {p.pair_id: p for p in data} if data is not None else None
    grouped: dict[str, list[DecisionRow]] = defaultdict(list)
    seen: dict[str, set[str]] = defaultdict(set)
    for rec in read_records(path):
        pair_id = str(rec.require("pair_id"))
        name = str(rec.data.get("judge", ""))
        if judge is not None and name != judge:
            continue
        if pair_id in seen[name]:
            raise rec.fail(f"duplicate decisions for pair {pair_id!r}" + (f" by judge {name!r}" if name else ""),
                           key="pair_id")
        seen[name].add(pair_id)
        if by_id is not None:
            pair = by_id.get(pair_id)
            if pair is None:
                split = rec.data.get("response_model")
                hint = (f"this judge was run on the {split} split; pass that split as --data"
                        if split else "pass the split these decisions were made on as --data")
                if name:
                    hint += " or choose one judge with --judge"
                raise rec.fail(f"pair {pair_id!r} is not in the --data split", key="pair_id", hint=hint)
            if "label" in rec.data and _label(rec) != pair.label:
                raise rec.fail(f"label {rec.data['label']!r} disagrees with the --data split ({pair.label})",
                               key="label")
            label, source = pair.label, pair.source
        else:
            label, source = _label(rec), _source(rec)
        grouped[name].append(DecisionRow(pair_id, source, label, _decisions(rec), name, rec.line))
    if by_id is not None:
        for name, rows in grouped.items():
            for pair_id, pair in by_id.items():
                if pair_id not in seen[name]:
                    rows.append(DecisionRow(pair_id, pair.source, pair.label, (None, None), name, 0))
    return dict(grouped)


def pair_counter(label: str, original: str | None, swapped: str | None) -> int:
    """The official counter: flip the swapped-order decision back, +1 agree / -1 oppose / 0 else."""
    opposite = verdicts.flip(label)
    counter = 0
    for decision in (original, verdicts.flip(swapped)):
        if decision == label:
            counter += 1
        elif decision == opposite:
            counter -= 1
    return counter


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else 0.0


def score(rows: Iterable[DecisionRow]) -> JudgeBenchResult:
    """Micro, macro, per category, and the inconsistency / tie / failure rates of one judge."""
    rows = list(rows)
    if not rows:
        raise UserError("no JudgeBench decisions to score")
    correct: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    ties = failures = inconsistent = 0
    for row in rows:
        cat = category_of(row.source)
        total[cat] += 1
        original, swapped = row.decisions
        if pair_counter(row.label, original, swapped) > 0:
            correct[cat] += 1
        ties += sum(d == "A=B" for d in row.decisions)
        failures += sum(d is None for d in row.decisions)
        if original is not None and swapped is not None and original != verdicts.flip(swapped):
            inconsistent += 1
    n = len(rows)
    n_correct = sum(correct.values())
    categories = {c: round(_pct(correct[c], total[c]), 2) for c in CATEGORIES if total[c]}
    macro = sum(_pct(correct[c], total[c]) for c in categories) / len(categories)
    return JudgeBenchResult(
        micro=round(_pct(n_correct, n), 2),
        macro=round(macro, 2),
        categories=categories,
        inconsistent=round(_pct(inconsistent, n), 2),
        ties=round(_pct(ties, 2 * n), 2),
        failures=round(_pct(failures, 2 * n), 2),
        n=n,
        correct=n_correct,
        counts={c: total[c] for c in CATEGORIES if total[c]},
    )


def score_file(
    path: str | Path, data: str | Path | None = None, judge: str | None = None
) -> dict[str, JudgeBenchResult]:
    """Score every judge in a decisions file (or only `judge`)."""
    pairs = load_pairs(data) if data is not None else None
    grouped = load_decisions(path, pairs, judge=judge)
    if judge is not None and judge not in grouped:
        names = ", ".join(sorted(load_decisions(path))) or "(none)"
        raise UserError(f"judge {judge!r} is not in the file", file=path, hint=f"judges: {names}")
    return {name: score(rows) for name, rows in grouped.items()}


def decisions_from_verdicts(
    pairs: Sequence[JudgeBenchPair], verdicts_by_key: Mapping[tuple[str, int], str | None]
) -> list[DecisionRow]:
    """Rows for the scorer from a runner's verdicts keyed by (pair_id, order): order 0 is the
    original A/B order, order 1 the swapped one (verdict as the judge gave it)."""
    rows = []
    for p in pairs:
        d0 = verdicts.direction(verdicts_by_key.get((p.pair_id, 0)))
        d1 = verdicts.direction(verdicts_by_key.get((p.pair_id, 1)))
        rows.append(DecisionRow(p.pair_id, p.source, p.label, (d0, d1)))
    return rows
