"""Reading users' JSON / JSONL files record by record, keeping the line each record starts on.

Every scorer's loader goes through here so a bad file always ends as a `UserError` that names the
file and the line (a JSON array file is decoded object by object to know where each one starts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError


@dataclass(frozen=True)
class Record:
    """One JSON object from a user's file and the 1-based line it starts on."""

    line: int
    data: dict[str, Any]
    file: Path

    def fail(self, message: str, key: str | None = None, hint: str | None = None) -> UserError:
        return UserError(message, file=self.file, line=self.line, key=key, hint=hint)

    def require(self, key: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """The value under `key`, or a UserError pointing at this record."""
        if key not in self.data:
            raise self.fail(f"missing field {key!r}", key=key)
        value = self.data[key]
        if kind is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{key!r} must be {names}, got {type(value).__name__}", key=key)
        return value


def unique_ids(records: Iterable[Record], key: str) -> Iterator[tuple[Record, str]]:
    """Each record with its `key` value as a string; a value seen before is a UserError at its line."""
    seen: set[str] = set()
    for rec in records:
        value = str(rec.require(key))
        if value in seen:
            raise rec.fail(f"duplicate {key} {value!r}", key=key)
        seen.add(value)
        yield rec, value


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _iter_array(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    pos = 0
    n = len(text)

    def skip_ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    pos = skip_ws(pos)
    if pos >= n or text[pos] != "[":
        raise UserError("expected a JSON array of objects or JSON Lines", file=path, line=_line_of(text, pos))
    pos = skip_ws(pos + 1)
    if pos < n and text[pos] == "]":
        return
    while True:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise UserError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
        yield _line_of(text, pos), obj
        pos = skip_ws(end)
        if pos < n and text[pos] == ",":
            pos = skip_ws(pos + 1)
            continue
        if pos < n and text[pos] == "]":
            return
        raise UserError("invalid JSON: expected ',' or ']'", file=path, line=_line_of(text, pos))


def read_records(path: str | Path) -> list[Record]:
    """All objects of a `.jsonl` file (one per line) or of a `.json` array, with their lines."""
    path = Path(path)
    if not path.is_file():
        raise UserError("no such file", file=path, hint="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text ({exc.reason})", file=path) from None
    records: list[Record] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        pairs: Iterator[tuple[int, Any]] = _iter_array(text, path)
    else:
        pairs = _iter_lines(text, path)
    for line, obj in pairs:
        if not isinstance(obj, Mapping):
            raise UserError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=line)
        records.append(Record(line, dict(obj), path))
    if not records:
        raise UserError("file holds no records", file=path)
    return records


def _iter_lines(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is legal inside JSON strings
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UserError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=path, line=number) from None


def write_json(path: Path, obj: Any) -> None:
    """Deterministic, human-readable JSON (results files that people diff)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
