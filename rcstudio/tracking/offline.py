"""Read offline W&B runs (`.wandb` files) without network or a wandb process.

`OfflineRun` folds the records of one `.wandb` file into config, summary, history and state; it
remembers the offset after the last complete record, so `refresh()` on a live run reads only what
was appended (follow mode). A finished run (exit record seen) is never read again.
`OfflineSource` finds runs under directories (`**/wandb/*run-*/run-<id>.wandb`) and implements
`MetricSource`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.tracking import wandb_format as fmt
from rcstudio.tracking.source import (
    FAILED,
    FINISHED,
    RUNNING,
    MetricSource,
    RunRef,
    Series,
    downsample,
)

if TYPE_CHECKING:  # numpy is imported where arrays are made: the dashboard's first paint needs none
    import numpy as np

_INTERNAL = "_wandb"


def _load(value_json: str) -> Any:
    try:
        return json.loads(value_json)
    except ValueError:
        return value_json


def _number(raw: Any) -> float:
    """A history value as float (NaN for non-numbers: media, strings, dicts)."""
    if isinstance(raw, (str, bytes)):
        try:
            return float(raw)  # value_json of a number is a JSON number: float() reads it fast
        except ValueError:
            raw = _load(raw)
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, (int, float)):
        return float(raw)
    return float("nan")


def _numbers(raws: list[Any]) -> np.ndarray:
    """History values as floats: one C-level pass when every value is a JSON number's text (the
    usual case), else value by value (NaN for media, strings, dicts)."""
    import numpy as np

    try:
        return np.fromiter(map(float, raws), dtype=float, count=len(raws))  # float() reads bytes/str
    except (TypeError, ValueError):
        pass
    return np.fromiter((_number(v) for v in raws), dtype=float, count=len(raws))


class _KeyScanner:
    """Finds wanted history keys in a row's bytes without decoding the row.

    wandb-core writes each history item as `0x0a <item length> 0x12 <key length> key` (the key as
    a one-element nested_key; older writers use field 1, `0x0a`) followed by `0x82 0x01 <length>
    value_json`. A wanted key is located with `bytes.find` (C speed) and checked on both sides
    (item header before, value_json tag after); a row where a check fails, or without `_step`, is
    reported back (False) and decoded in full, so an unusual writer costs time, not correctness.
    Keys with "." (nested dicts, several nested_key parts) are not scanned: see `usable`.
    """

    _STEP = b"\x12\x05_step\x82\x01"

    def __init__(self, only: frozenset[str], run: OfflineRun) -> None:
        self.run = run
        self.patterns = []
        for key in sorted(only):
            raw = key.encode("utf-8")
            self.patterns.append((key, b"\x12" + bytes((len(raw),)) + raw, b"\x0a" + bytes((len(raw),)) + raw))

    def mentions(self, body: bytes) -> bool:
        """Whether a wanted key's encoded bytes occur in `body` (False: no item of it is wanted)."""
        return any(nested in body or plain in body for _, nested, plain in self.patterns)

    @staticmethod
    def usable(only: frozenset[str]) -> bool:
        return all(0 < len(k.encode("utf-8")) < 128 and "." not in k and not k.startswith("_") for k in only)

    @staticmethod
    def _value(body: bytes, i: int, j: int) -> bytes | None:
        """value_json of the item whose key pattern spans body[i:j], None if the layout differs."""
        if body[i - 2 : i - 1] != b"\x0a" or body[i - 1] >= 0x80:  # item tag, 1-byte item length
            if not (i >= 3 and body[i - 3] == 0x0A and body[i - 2] >= 0x80 and body[i - 1] < 0x80):
                return None
        if body[j : j + 2] != b"\x82\x01":
            return None
        length = body[j + 2] if len(body) > j + 2 else 0x80
        if length >= 0x80:
            return None
        return body[j + 3 : j + 3 + length]

    def scan(self, body: bytes, num: int) -> bool:
        value = self._value
        i = body.find(self._STEP)
        if i < 0:
            return False
        step_raw = value(body, i, i + 7)  # 7 = len(_STEP) less the two bytes of the value tag
        if step_raw is None:
            return False
        try:
            step = int(step_raw)
        except ValueError:
            return False
        found = []
        for key, nested, plain in self.patterns:
            i = body.find(nested)
            if i >= 0:
                raw = value(body, i, i + len(nested))
            else:
                i = body.find(plain)
                if i < 0:
                    continue  # the key is not in this row
                raw = value(body, i, i + len(plain))
            if raw is None:
                return False
            found.append((key, raw))
        run = self.run
        steps, raws, last = run._steps, run._raw, run._hist_num
        for key, raw in found:
            lst = steps.get(key)
            if lst is None:
                lst = steps[key] = []
                raws[key] = []
            lst.append(step)
            raws[key].append(raw)
            last[key] = num
        return True


def _item_key(item: Any) -> str:
    return ".".join(_item_path(item))


def _set_nested(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value


def _del_nested(target: dict[str, Any], path: Sequence[str]) -> None:
    for part in path[:-1]:
        target = target.get(part)  # type: ignore[assignment]
        if not isinstance(target, dict):
            return
    target.pop(path[-1], None)


def _item_path(item: Any) -> list[str]:
    return [item.key] if item.key else list(item.nested_key)


@dataclass
class OfflineRun:
    """The folded state of one `.wandb` file; `refresh()` reads records appended since last time.

    Summary keys are flat: a nested key (`{"a": {"b": 1}}`) reads `a.b`, like history keys.
    wandb-core writes, for every logged row, a summary record mirroring that row right before the
    history record; those mirrors are not decoded (the history row holds the same values), which
    is what makes reading a 100k-step run fast. Explicit summary writes are decoded in order.

    With `only` (a set of history keys) the other keys cost nothing: each history row is searched
    for the wanted keys' encoded bytes (`_KeyScanner`) instead of being decoded, summary records
    without those bytes are not decoded either, and `history`, `keys` and `summary` cover those
    keys only. A row in a layout the scan does
    not know is decoded in full (same result, slower).
    """

    path: Path
    offset: int = 0
    run_id: str = ""
    name: str = ""
    project: str = ""
    entity: str = ""
    group: str = ""
    job_type: str = ""
    start_time: datetime | None = None
    producer: str = ""
    exit_code: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    # raw history: key -> steps / raw values; values decode lazily for the keys asked for
    _steps: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _raw: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    _hist_num: dict[str, int] = field(default_factory=dict, repr=False)  # key -> record no. of last row
    _sum: dict[str, tuple[int, Any]] = field(default_factory=dict, repr=False)  # key -> (record no., raw)
    _removed: dict[str, int] = field(default_factory=dict, repr=False)
    _pending: Any = field(default=None, repr=False)  # a summary record that may mirror the next row
    _parsed: dict[bytes, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    _summary_cache: dict[str, Any] | None = field(default=None, repr=False)
    # Why reading stopped early (corrupt or unreadable file): what was read before it stays usable.
    problem: str | None = None
    # history keys to keep (None = all): rows are then scanned for those keys' bytes, not decoded
    only: frozenset[str] | None = None
    _scanner: Any = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    @property
    def state(self) -> str:
        if self.exit_code is None:
            return RUNNING
        return FINISHED if self.exit_code == 0 else FAILED

    def keys(self) -> list[str]:
        """History keys (internal `_step`, `_runtime`, `_timestamp` left out)."""
        return sorted(self._steps)

    def refresh(self, verify: bool = True) -> int:
        """Read records appended since the last call; returns how many were read."""
        if (self.finished and self.offset) or self.problem:
            return 0
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return 0
        if size <= self.offset:
            return 0
        base = self.offset - self.offset % fmt.BLOCK_SIZE
        try:
            with open(self.path, "rb") as fh:
                fh.seek(base)
                data = fh.read()
        except OSError as exc:
            self.problem = f"{self.path}: cannot read: {exc.strerror or exc}"
            return 0
        from google.protobuf.message import DecodeError

        pb = fmt.record_protos()

        count = self.records
        kind_of = fmt.record_kind
        history = self._history
        parse_history = pb.HistoryRecord.FromString
        if self._scanner is None and self.only is not None and _KeyScanner.usable(self.only):
            self._scanner = _KeyScanner(self.only, self)
        scan = self._scanner.scan if self._scanner is not None else None
        offset = self.offset
        try:
            for payload, end in fmt.iter_records(data, offset, verify=verify, base=base):
                count += 1
                kind, start, stop = kind_of(payload)
                if kind == 2:  # fmt.F_HISTORY
                    self._pending = None  # the summary record before a row mirrors it
                    if scan is None or not scan(bytes(payload[start:stop]), count):
                        history(parse_history(payload[start:stop]), count)
                else:
                    if self._pending is not None:
                        self._summary_pending()
                    if kind == fmt.F_SUMMARY:
                        # copied only if not dropped as the next row's mirror (most are)
                        self._pending = (payload, start, stop, count)
                    elif kind:
                        self._other(pb, kind, payload[start:stop], count)
                offset = end
        except (fmt.WandbFormatError, DecodeError) as exc:
            # Keep everything before the damage; a follower does not retry a corrupt file.
            self.problem = (f"{self.path}: corrupt W&B file ({exc}); read up to the last good record "
                            f"(offset {offset}, {count} records)")
        finally:
            self.offset = offset
        if self._pending is not None:
            self._summary_pending()
        read = count - self.records
        self.records = count
        if read:
            self._summary_cache = None
        return read

    # -- folding records -------------------------------------------------------------------
    def _other(self, pb: Any, kind: int, body: Any, num: int) -> None:
        if kind == fmt.F_CONFIG:
            self._config(pb.ConfigRecord.FromString(body))
        elif kind == fmt.F_RUN:
            self._run(pb.RunRecord.FromString(body), num)
        elif kind == fmt.F_EXIT:
            self.exit_code = pb.RunExitRecord.FromString(body).exit_code
        elif kind == fmt.F_HEADER:
            self.producer = pb.HeaderRecord.FromString(body).version_info.producer

    def _history(self, rec: Any, num: int) -> None:
        step = rec.step.num if rec.HasField("step") else None
        from_item = step is None
        steps, raws, last = self._steps, self._raw, self._hist_num
        only = self.only
        for item in rec.item:
            nested = item.nested_key
            key = item.key or (nested[0] if len(nested) == 1 else ".".join(nested))
            if key[0] == "_":
                if step is None and key == "_step":
                    step = int(_number(item.value_json))
                continue
            if only is not None and key not in only:
                continue
            raw = item.value_json if item.value_json else _typed(item)
            lst = steps.get(key)
            if lst is None:
                lst = steps[key] = []
                raws[key] = []
            lst.append(step)
            raws[key].append(raw)
            last[key] = num
        if step is not None:
            if from_item:  # rows written before `_step` was seen in this record
                for key, n in last.items():
                    if n == num and steps[key][-1] is None:
                        steps[key][-1] = step

    def _summary_pending(self) -> None:
        payload, start, stop, num = self._pending
        self._pending = None
        self._summary_bytes(bytes(payload[start:stop]), num)

    def _summary_bytes(self, body: bytes, num: int) -> None:
        if self._scanner is not None and not self._scanner.mentions(body):
            return  # no wanted key in it (e.g. the per-second `_runtime` records): not decoded
        items = self._parsed.get(body)
        if items is None:
            pb = fmt.record_protos()

            rec = pb.SummaryRecord.FromString(body)
            items = [(_item_key(i), i.value_json) for i in rec.update]
            for item in rec.remove:
                self._removed[_item_key(item)] = num
            if not rec.remove:
                if len(self._parsed) > 256:
                    self._parsed.clear()
                self._parsed[body] = items
        only = self.only
        for key, raw in items:
            if key.startswith(_INTERNAL) or (only is not None and key not in only):
                continue
            self._sum[key] = (num, raw)

    def _config(self, rec: Any) -> None:
        for item in rec.update:
            path = _item_path(item)
            if path[0] == _INTERNAL:
                continue
            _set_nested(self.config, path, _load(item.value_json))
        for item in rec.remove:
            _del_nested(self.config, _item_path(item))

    def _run(self, rec: Any, num: int) -> None:
        self.run_id = rec.run_id or self.run_id
        self.name = rec.display_name or self.name or rec.run_id
        self.project = rec.project or self.project
        self.entity = rec.entity or self.entity
        self.group = rec.run_group or self.group
        self.job_type = rec.job_type or self.job_type
        if rec.HasField("start_time"):
            self.start_time = datetime.fromtimestamp(
                rec.start_time.seconds + rec.start_time.nanos / 1e9, tz=timezone.utc
            )
        self._config(rec.config)
        if rec.HasField("summary"):
            self._summary_bytes(rec.summary.SerializeToString(), num)

    @property
    def summary(self) -> dict[str, Any]:
        """Latest value per key: the later of the last history row and the last summary write."""
        if self._summary_cache is not None:
            return self._summary_cache
        latest: dict[str, tuple[int, Any]] = dict(self._sum)
        for key, num in self._hist_num.items():
            if key not in latest or latest[key][0] < num:
                latest[key] = (num, self._raw[key][-1])
        out: dict[str, Any] = {}
        for key in sorted(latest):
            num, raw = latest[key]
            if self._removed.get(key, -1) > num:
                continue
            out[key] = _load(raw) if isinstance(raw, (str, bytes)) else raw
        self._summary_cache = out
        return out

    # -- reading out -----------------------------------------------------------------------
    def history(self, keys: Iterable[str], samples: int | None = None) -> dict[str, Series]:
        import numpy as np

        out: dict[str, Series] = {}
        for key in keys:
            steps = self._steps.get(key)
            if steps is None:
                out[key] = Series(key, np.empty(0), np.empty(0))
                continue
            values = _numbers(self._raw[key])
            xs = np.asarray(steps, dtype=float)
            xs, values = downsample(xs, values, samples)
            out[key] = Series(key, xs, values)
        return out

    def raw_history(self, key: str) -> list[tuple[int, Any]]:
        """(step, decoded value) pairs, non-numeric values included (tables, strings)."""
        pairs = zip(self._steps.get(key, []), self._raw.get(key, []))
        return [(s, _load(v) if isinstance(v, (str, bytes)) else v) for s, v in pairs]

    def ref(self) -> RunRef:
        return RunRef(
            key=str(self.path),
            id=self.run_id or _id_from_path(self.path),
            name=self.name or self.run_id,
            project=self.project,
            entity=self.entity,
            group=self.group,
            job_type=self.job_type,
            path=self.path,
        )


def _typed(item: Any) -> Any:
    """Values of the typed HistoryItem fields (newer writers) as Python values."""
    which = item.WhichOneof("value")
    if which is None or which == "none":
        return None
    value = getattr(item, which)
    if which == "json":
        return _load(value)
    return value


def _id_from_path(path: Path) -> str:
    stem = path.stem  # run-<id>
    return stem[4:] if stem.startswith("run-") else stem


def read_run(path: str | Path, verify: bool = True, keys: Iterable[str] | None = None) -> OfflineRun:
    """Read a whole `.wandb` file (or the one in a run directory); with `keys`, keep the history
    of those keys only (the others are skipped without being decoded)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("run-*.wandb"))
        if not found:
            raise FileNotFoundError(f"no run-*.wandb in {path}")
        path = found[-1]
    run = OfflineRun(path, only=None if keys is None else frozenset(keys))
    run.refresh(verify=verify)
    if run.problem and not run.records:
        from rcstudio.errors import UserError

        raise UserError(run.problem, file=path, hint="the file holds no readable record; rerun the job, "
                                                     "or sync another copy with `wandb sync`")
    return run


def find_wandb_files(root: Path) -> list[Path]:
    """`.wandb` files under `root`: a wandb dir, a run dir, or a tree of rcstudio run dirs."""
    root = Path(root)
    if root.is_file():
        return [root]
    patterns = ("run-*.wandb", "*run-*/run-*.wandb", "wandb/*run-*/run-*.wandb", "**/wandb/*run-*/run-*.wandb")
    seen: dict[Path, None] = {}
    for pattern in patterns:
        for hit in root.glob(pattern):
            if hit.parent.name != "latest-run":  # wandb's symlink to the newest run dir
                seen.setdefault(hit, None)
        if seen and pattern != "run-*.wandb":
            break
    return sorted(seen)


def wait_finished(root: str | Path, run_id: str | None = None, timeout_s: float = 60.0) -> OfflineRun:
    """Follow a run until its exit record is on disk.

    `wandb.finish()` can return before wandb-core has flushed the `.wandb` file, so a job (or a
    test) that reads its own run right after finishing waits here.
    """
    import time

    deadline = time.monotonic() + timeout_s
    run: OfflineRun | None = None
    while True:
        if run is None:
            for path in find_wandb_files(Path(root)):
                if run_id is None or _id_from_path(path) == run_id:
                    run = OfflineRun(path)
                    break
        if run is not None:
            run.refresh()
            if run.finished:
                return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"no finished W&B run {run_id or ''} under {root} after {timeout_s:.0f}s")
        time.sleep(0.05)


@dataclass
class ResumedRun:
    """One run logged by several attempts (a resubmitted or requeued job resumes the same W&B id,
    and wandb writes each attempt to a new `offline-run-*` dir): read as one continuous history.

    `attempts` are in the order they ran. A key's rows from an attempt stop where the next attempt's
    rows for that key begin (a resumed job redoes the steps after its last checkpoint; the later
    values are the ones the run continued from). Summary: later attempts win per key; config and
    state: the last attempt's.
    """

    attempts: list[OfflineRun]

    @property
    def last(self) -> OfflineRun:
        return self.attempts[-1]

    @property
    def config(self) -> dict[str, Any]:
        return self.last.config

    @property
    def state(self) -> str:
        return self.last.state

    @property
    def exit_code(self) -> int | None:
        return self.last.exit_code

    @property
    def finished(self) -> bool:
        return self.last.finished

    @property
    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for run in self.attempts:
            out.update(run.summary)
        return out

    def keys(self) -> list[str]:
        return sorted({k for run in self.attempts for k in run.keys()})

    def history(self, keys: Iterable[str], samples: int | None = None) -> dict[str, Series]:
        import numpy as np  # not at module level: the light commands import this module

        out: dict[str, Series] = {}
        for key in keys:
            parts = [run.history([key])[key] for run in self.attempts]
            parts = [p for p in parts if len(p)]
            xs_list, ys_list = [], []
            for i, part in enumerate(parts):
                xs, ys = part.steps, part.values
                if i + 1 < len(parts):  # cut where the next attempt took over
                    keep = xs < parts[i + 1].steps[0]
                    xs, ys = xs[keep], ys[keep]
                xs_list.append(xs)
                ys_list.append(ys)
            xs = np.concatenate(xs_list) if xs_list else np.empty(0)
            ys = np.concatenate(ys_list) if ys_list else np.empty(0)
            xs, ys = downsample(xs, ys, samples)
            out[key] = Series(key, xs, ys)
        return out


def attempt_order(run: OfflineRun) -> tuple:
    """When an attempt ran: its start time, then its dir name (offline-run-YYYYMMDD_HHMMSS-id)."""
    start = run.start_time.timestamp() if run.start_time is not None else float("inf")
    return (start, run.path.parent.name, str(run.path))


class OfflineSource(MetricSource):
    """Offline runs under one or more directories; each file is read once, then followed. The
    attempts of a resumed run (one id, several files) are read as one `ResumedRun`."""

    def __init__(self, roots: Iterable[str | Path], verify: bool = True) -> None:
        self.roots = [Path(r) for r in roots]
        self.verify = verify
        self._runs: dict[str, OfflineRun] = {}
        self._seen_mtime: dict[Path, float] = {}

    def _scan(self) -> None:
        for root in self.roots:
            try:
                mtime = root.stat().st_mtime
            except OSError:
                continue
            settled = datetime.now().timestamp() - mtime > 10.0
            if root.name == "wandb" and settled and self._seen_mtime.get(root) == mtime:
                continue  # no new run directory in a wandb dir since the last look: skip the glob
            self._seen_mtime[root] = mtime
            for path in find_wandb_files(root):
                key = str(path)
                if key not in self._runs:
                    run = OfflineRun(path)
                    run.refresh(self.verify)
                    self._runs[key] = run

    def _attempts(self) -> dict[str, list[OfflineRun]]:
        """Files by run id, each id's attempts in the order they ran."""
        by_id: dict[str, list[OfflineRun]] = {}
        for key in sorted(self._runs):
            run = self._runs[key]
            by_id.setdefault(run.ref().id, []).append(run)
        for runs in by_id.values():
            runs.sort(key=attempt_order)
        return by_id

    def runs(self) -> list[RunRef]:
        self._scan()
        # a resumed run (same id, several offline-run dirs): its latest attempt's file stands for it
        return [runs[-1].ref() for runs in self._attempts().values()]

    def run(self, ref: RunRef) -> OfflineRun | ResumedRun:
        """The folded run, refreshed (reads only new records of a live run); a run with several
        attempts as one `ResumedRun`."""
        run = self._runs.get(ref.key)
        if run is None:
            run = OfflineRun(Path(ref.path or ref.key))
            self._runs[ref.key] = run
        run.refresh(self.verify)
        attempts = self._attempts().get(ref.id, [run])
        if len(attempts) <= 1:
            return run
        for other in attempts:
            if other is not run:
                other.refresh(self.verify)
        return ResumedRun(attempts)

    def config(self, run: RunRef) -> dict[str, Any]:
        return self.run(run).config

    def summary(self, run: RunRef) -> dict[str, Any]:
        return self.run(run).summary

    def history(self, run: RunRef, keys: Sequence[str], samples: int | None = None) -> dict[str, Series]:
        return self.run(run).history(keys, samples)

    def state(self, run: RunRef) -> str:
        return self.run(run).state

    def problem(self, run: RunRef) -> str | None:
        return self.run(run).problem

    def file_problems(self, run_ids: Sequence[str]) -> list[str]:
        """Problems of files named after these ids (a file damaged before its run record hides the run)."""
        self._scan()
        return [run.problem for run in self._runs.values()
                if run.problem and _id_from_path(run.path) in run_ids]
