"""Load preference pairs: RationaleRM / HelpSteer3 JSONL files, or `hf://REPO[:SPLIT]` via `datasets`.

Every record becomes a `PairItem`; every record that cannot is listed in `LoadResult.skipped` with
its line number (1-based; the row number for hub datasets) and the reason - nothing is dropped
silently. Accepted fields (RationaleRM = HelpSteer3 + checklists):

* `id` (else `uid`/`prompt_id`, else a content hash), `domain`,
* `context`: list of `{role, content}` turns (a plain string = one user turn),
* `response1`, `response2` (required strings),
* `overall_preference` (int -3..3, negative = response1 better; `preference` also accepted),
* `human-checklist` (list of strings; absent in raw HelpSteer3),
* `individual_preference`: HelpSteer3's per-annotator list; their `reasoning` texts are kept in
  `extra["annotator_reasoning"]` (what decomposition turns into a checklist),
* per stored judge `<name>`: `<name>-checklist`, `<name>-label`, `<name>-generated_text`.
Other fields are kept in `extra`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError
from rcstudio.rationale.schema import JudgeOutput, PairItem

HF_PREFIX = "hf://"
DEFAULT_HF_SPLIT = "test"
_KNOWN = {
    "id", "uid", "prompt_id", "domain", "context", "response1", "response2", "overall_preference",
    "preference", "human-checklist", "human_checklist",
}  # fmt: skip


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str


@dataclass
class LoadResult:
    items: list[PairItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        text = f"{len(self.items)} items loaded from {self.source}"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text


class RecordError(ValueError):
    """A record that cannot become a PairItem (the message becomes Skipped.reason)."""


def _str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RecordError(f"bad field {name!r}: not a JSON list ({exc.msg})") from None
        else:
            from rcstudio.rationale.parse import parse_reasons

            return parse_reasons(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"bad field {name!r}: expected a list of strings")
    return [v.strip() for v in value if v.strip()]


def _context(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise RecordError("bad field 'context': expected a list of {role, content} turns")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise RecordError(f"bad field 'context': turn {i} has no string 'content'")
        turns.append({"role": str(turn.get("role") or "user"), "content": turn["content"]})
    return turns


def _preference(rec: dict[str, Any]) -> int | None:
    value = rec.get("overall_preference", rec.get("preference"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise RecordError(f"bad field 'overall_preference': {value!r} is not an integer")
    if not -3 <= int(value) <= 3:
        raise RecordError(f"bad field 'overall_preference': {value} is outside -3..3")
    return int(value)


def _outputs(rec: dict[str, Any]) -> tuple[dict[str, JudgeOutput], set[str]]:
    names = []
    for key in rec:
        for suffix in ("-checklist", "-label", "-generated_text"):
            if key.endswith(suffix) and key != "human-checklist":
                name = key[: -len(suffix)]
                if name and name not in names:
                    names.append(name)
    used: set[str] = set()
    outputs = {}
    for name in names:
        keys = [f"{name}-checklist", f"{name}-label", f"{name}-generated_text"]
        used.update(keys)
        label = rec.get(keys[1])
        text = rec.get(keys[2])
        outputs[name] = JudgeOutput(
            checklist=_str_list(rec.get(keys[0]), keys[0]),
            label=None if label is None else str(label),
            generated_text=None if text is None else str(text),
        )
    return outputs, used


def record_to_item(rec: Any) -> PairItem:
    """One RationaleRM / HelpSteer3 record as a PairItem; raises RecordError when it cannot be."""
    if not isinstance(rec, dict):
        raise RecordError(f"not a JSON object ({type(rec).__name__})")
    for name in ("response1", "response2"):
        if name not in rec or rec[name] is None:
            raise RecordError(f"missing field {name!r}")
        if not isinstance(rec[name], str):
            raise RecordError(f"bad field {name!r}: expected a string")
    context = _context(rec.get("context", []))
    preference = _preference(rec)
    checklist = _str_list(rec.get("human-checklist", rec.get("human_checklist")), "human-checklist")
    outputs, used = _outputs(rec)
    extra = {k: v for k, v in rec.items() if k not in _KNOWN and k not in used}
    individual = rec.get("individual_preference")
    if isinstance(individual, list):
        extra["annotator_reasoning"] = [
            str(a.get("reasoning")).strip()
            for a in individual
            if isinstance(a, dict) and isinstance(a.get("reasoning"), str) and a["reasoning"].strip()
        ]
    raw_id = rec.get("id", rec.get("uid", rec.get("prompt_id")))
    if raw_id is None:
        blob = json.dumps([rec.get("context"), rec["response1"], rec["response2"]], sort_keys=True)
        raw_id = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return PairItem(
        id=str(raw_id),
        domain=str(rec.get("domain") or "general"),
        context=context,
        response1=rec["response1"],
        response2=rec["response2"],
        preference=preference,
        human_checklist=checklist,
        outputs=outputs,
        extra=extra,
    )


def items_from_records(records: Iterable[tuple[int, Any]], source: str = "", limit: int = 0) -> LoadResult:
    """Convert (line number, record) pairs; duplicate ids are skipped too (ids key match files)."""
    result = LoadResult(source=source)
    seen: set[str] = set()
    for line, rec in records:
        if isinstance(rec, RecordError):
            result.skipped.append(Skipped(line, str(rec)))
            continue
        try:
            item = record_to_item(rec)
        except RecordError as exc:
            result.skipped.append(Skipped(line, str(exc)))
            continue
        if item.id in seen:
            result.skipped.append(Skipped(line, f"duplicate id: {item.id!r} already loaded"))
            continue
        seen.add(item.id)
        result.items.append(item)
        if limit and len(result.items) >= limit:
            break
    return result


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield lineno, json.loads(raw)
            except json.JSONDecodeError as exc:
                yield lineno, RecordError(f"invalid JSON: {exc.msg} at column {exc.colno}")


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    if not isinstance(data, list):
        raise UserError("a .json data file must hold a list of records", file=path, hint="or use JSONL")
    yield from enumerate(data, 1)


def _hf_records(source: str) -> Iterator[tuple[int, Any]]:
    spec = source[len(HF_PREFIX) :]
    repo, _, split = spec.partition(":")
    split = split or DEFAULT_HF_SPLIT
    if not repo:
        raise UserError(f"bad dataset source {source!r}", hint="write hf://OWNER/NAME:SPLIT, e.g. hf://Qwen/RationaleRM:test")
    hint = (
        f"the Hugging Face hub is not reachable from here. On a machine with network run "
        f"`python -c \"import datasets; datasets.load_dataset('{repo}', split='{split}')"
        f".to_json('{repo.split('/')[-1]}-{split}.jsonl')\"`, copy the file here and pass its path instead"
    )
    try:
        import datasets
    except ImportError:  # pragma: no cover - optional extra
        raise UserError(f"loading {source} needs the `datasets` package", hint="pip install 'rcstudio[data]'") from None
    try:
        ds = datasets.load_dataset(repo, split=split)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if any(w in text.lower() for w in ("offline", "connect", "resolve", "network", "couldn't reach", "max retries")):
            raise UserError(f"cannot download {source}: {text.splitlines()[0][:200]}", hint=hint) from None
        raise UserError(f"cannot load {source}: {text.splitlines()[0][:300]}", hint=hint) from None
    yield from enumerate(ds, 1)


def load_pairs(source: str | Path, limit: int = 0) -> LoadResult:
    """Load a JSONL/JSON file or `hf://REPO[:SPLIT]`; bad records go to `skipped` with line and reason."""
    src = str(source)
    if src.startswith(HF_PREFIX):
        return items_from_records(_hf_records(src), src, limit)
    path = Path(src).expanduser()
    if not path.exists():
        raise UserError(f"data file not found: {path}", file=path, hint="pass a .jsonl file or hf://REPO:SPLIT")
    if path.is_dir():
        raise UserError(f"{path} is a directory", file=path, hint="pass one .jsonl file")
    records = _json_records(path) if path.suffix == ".json" else _jsonl_records(path)
    return items_from_records(records, str(path), limit)


def write_pairs(items: Iterable[PairItem], path: str | Path) -> Path:
    """Write items as RationaleRM-style JSONL (what `load_pairs` reads back)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item.to_record(), ensure_ascii=False) + "\n")
    return out
