"""Output files of a decomposition run and resuming from them.

`<out>` holds the kept pairs in the RationaleRM schema (`human-checklist` plus the pair's own
fields) with a `decompose` provenance object; `<out stem>.rejected.jsonl` holds filtered and failed
pairs with their reasons. Lines are appended and flushed as pairs finish, so an interrupted run
leaves a usable prefix; a rerun keeps the lines made with the same settings and redoes the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcstudio.rationale.decompose.outcome import NO_REASONING, PairOutcome
from rcstudio.rationale.decompose.prompt import Annotation
from rcstudio.rationale.decompose.reply import Decomposition, Dropped
from rcstudio.rationale.schema import PairItem


@dataclass(frozen=True)
class Provenance:
    """Settings that make a decomposition reproducible; a resume only reuses lines that match them."""

    model: str
    prompt_version: str
    min_items: int
    max_items: int
    source: str

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_version": self.prompt_version,
            "min_items": self.min_items,
            "max_items": self.max_items,
        }


def rejected_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rejected.jsonl")


def _provenance(prov: Provenance, item: PairItem, annotations: Sequence[Annotation], o: PairOutcome) -> dict[str, Any]:
    d = o.decomposition
    return {
        **prov.settings(),
        "source": prov.source,
        "source_id": item.id,
        "annotators": [a.annotator for a in annotations],
        "dropped": [x.to_dict() for x in d.dropped] if d else [],
        "empty_reason": d.empty_reason if d else None,
    }


def kept_record(item: PairItem, annotations: Sequence[Annotation], o: PairOutcome, prov: Provenance) -> dict[str, Any]:
    """The RationaleRM-schema line for a kept pair: the pair's fields, new `human-checklist`, provenance."""
    assert o.decomposition is not None
    rec = item.to_record()
    rec["human-checklist"] = list(o.decomposition.items)
    rec["decompose"] = _provenance(prov, item, annotations, o)
    return rec


def rejected_record(item: PairItem, annotations: Sequence[Annotation], o: PairOutcome, prov: Provenance) -> dict[str, Any]:
    """A filtered or failed pair: why, and what the model proposed (for audits and threshold tuning)."""
    return {
        "id": item.id,
        "status": o.status,
        "reason": o.reason,
        "items": list(o.decomposition.items) if o.decomposition else [],
        "sources": [{"annotator": a.annotator, "score": a.score, "reasoning": a.reasoning} for a in annotations],
        "decompose": _provenance(prov, item, annotations, o),
    }


def outcome_from_line(rec: dict[str, Any]) -> PairOutcome:
    """Rebuild a PairOutcome from a kept or rejected line (for the summary of a resumed run)."""
    meta = rec.get("decompose") or {}
    dropped = tuple(Dropped(d.get("text", ""), d.get("reason", "")) for d in meta.get("dropped") or [] if isinstance(d, dict))
    if "status" in rec:
        status, reason = rec["status"], rec.get("reason")
        items = rec.get("items") or []
        has_dec = status == "filtered" and reason != NO_REASONING
    else:
        status, reason, items, has_dec = "kept", None, rec.get("human-checklist") or [], True
    dec = Decomposition(tuple(items), dropped, meta.get("empty_reason")) if has_dec else None
    return PairOutcome(str(rec["id"]), status, reason, dec)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines of `path`; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            out.append(rec)
    return out


def _write_atomic(path: Path, records: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


@dataclass
class ResumeState:
    """Lines an earlier run finished with the same settings, by pair id (failed pairs are redone)."""

    kept: dict[str, dict[str, Any]]
    rejected: dict[str, dict[str, Any]]


def load_resume(out: Path, prov: Provenance, wanted_ids: set[str]) -> ResumeState:
    """Read earlier output, keep lines that match `prov` and belong to this input, rewrite both files."""
    want = prov.settings()

    def matching(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        keep = {}
        for rec in recs:
            meta = rec.get("decompose") or {}
            if str(rec["id"]) in wanted_ids and {k: meta.get(k) for k in want} == want:
                keep[str(rec["id"])] = rec
        return keep

    kept = matching(_read_lines(out))
    rejected = {k: v for k, v in matching(_read_lines(rejected_path(out))).items() if v.get("status") == "filtered"}
    rejected = {k: v for k, v in rejected.items() if k not in kept}
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, kept.values())
    _write_atomic(rejected_path(out), rejected.values())
    return ResumeState(kept, rejected)


class OutputWriter:
    """Appends finished pairs to the two files, flushing each line so a kill loses at most one."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._kept = out.open("a", encoding="utf-8")
        self._rejected = rejected_path(out).open("a", encoding="utf-8")

    def write(self, rec: dict[str, Any], kept: bool) -> None:
        fh = self._kept if kept else self._rejected
        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        fh.flush()

    def close(self) -> None:
        self._kept.close()
        self._rejected.close()


def finalize(out: Path, order: Sequence[str]) -> None:
    """Rewrite both files in input order so a finished run's output does not depend on timing."""
    rank = {pid: i for i, pid in enumerate(order)}
    for path in (out, rejected_path(out)):
        recs = _read_lines(path)
        recs.sort(key=lambda r: rank.get(str(r["id"]), len(rank)))
        _write_atomic(path, recs)
