"""Where a run's output really is, in reading order (`rcstudio logs` and the TUI's Logs tab).

A job writes to several files: the dispatcher's `logs/run-job.log` (every step, its outcome and a
failure's traceback), the command's own stdout/stderr (`logs/stdout.log`, `stderr.log`, or the
hetjob script's `--output`), the scheduler's files (submitit's `*_log.out` / `*_log.err`, which
hold a failure to start the command at all), and side services (reward server, vLLM). One list,
so the CLI and the dashboard show the same thing.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOB_LOG = "run-job.log"  # rcstudio.engines.dispatch.JOB_LOG (not imported: dispatch is job-side)
SIDE_LOGS = ("reward.log", "vllm.log", "judge-vllm.log")  # het group 0 / eval judge server


@dataclass(frozen=True)
class LogFile:
    """One file of a run's output: `stream` is `out` or `err`; `label` says who wrote it."""

    label: str
    path: Path
    stream: str

    def read(self, limit: int | None = None) -> str:
        """The file's text (the last `limit` bytes when given); '' when it does not exist."""
        try:
            with self.path.open("rb") as fh:
                if limit is not None:
                    size = self.path.stat().st_size
                    fh.seek(max(0, size - limit))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def to_dict(self, text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "path": str(self.path), "stream": self.stream,
                               "exists": self.path.is_file()}
        if text:
            out["text"] = self.read()
        return out


def _scheduler_files(folder: str, job_id: str, scheduler_id: str) -> list[Path]:
    """submitit's `<id>_<task>_log.out/.err` for this job (its folder may hold `%j`)."""
    found: list[Path] = []
    for ident in dict.fromkeys([scheduler_id, job_id]):
        base = Path(folder.replace("%j", ident))
        for suffix in ("out", "err"):
            found.extend(Path(p) for p in sorted(glob.glob(str(base / f"{glob.escape(ident)}_*_log.{suffix}"))))
        if found:
            break
    return found


def run_log_files(record: Any, registry: Any = None) -> list[LogFile]:
    """Every output file of a run that exists or will exist, job log first, errors last."""
    from rcstudio.launch.actions import log_path
    from rcstudio.launch.submit import job_ref

    logs = Path(record.run_dir) / "logs"
    out: list[LogFile] = [LogFile("job", logs / JOB_LOG, "out")]
    stdout, stderr = log_path(record, False, registry), log_path(record, True, registry)
    out.append(LogFile("stdout", stdout, "out"))
    if stderr != stdout:
        out.append(LogFile("stderr", stderr, "err"))
    out.extend(LogFile(name.removesuffix(".log"), logs / name, "out") for name in SIDE_LOGS if (logs / name).is_file())
    if record.job_id:
        try:
            ref = job_ref(record, registry)
        except Exception:  # noqa: BLE001 - a run without a job row still has its run-dir logs
            ref = None
        if ref is not None and ref.folder:
            for path in _scheduler_files(ref.folder, ref.job_id, ref.scheduler_id):
                stream = "err" if path.suffix == ".err" else "out"
                out.append(LogFile(f"scheduler {stream}", path, stream))
    seen: set[Path] = set()
    unique = []
    for f in out:
        if f.path not in seen:
            seen.add(f.path)
            unique.append(f)
    return unique


def select(files: Sequence[LogFile], err: bool) -> list[LogFile]:
    """`--err` shows the error streams; the default shows the output streams."""
    return [f for f in files if (f.stream == "err") == err]


def render(files: Sequence[LogFile], limit: int | None = None) -> str:
    """The non-empty files, each under a `==> path <==` header when there are several (as `tail`)."""
    texts = [(f, f.read(limit)) for f in files]
    texts = [(f, t) for f, t in texts if t]
    if len(texts) == 1:
        return texts[0][1]
    parts = []
    for f, text in texts:
        parts.append(f"==> {f.path} ({f.label}) <==\n{text}" + ("" if text.endswith("\n") else "\n"))
    return "\n".join(parts)


class LogTail:
    """What several files gained since the last `poll()`, a `==> path <==` header at each switch
    from one file to another (as `tail -f` on several files). `start_tail` bytes of each file are
    shown on the first poll (None: everything)."""

    def __init__(self, files: Sequence[LogFile], start_tail: int | None = None) -> None:
        self.files = list(files)
        self.offsets: dict[Path, int | None] = {f.path: None for f in self.files}
        self.start_tail = start_tail
        self.last: Path | None = None

    def extend(self, files: Sequence[LogFile]) -> None:
        """Follow files that appeared since (a scheduler's log once the job starts)."""
        for f in files:
            if f.path not in self.offsets:
                self.files.append(f)
                self.offsets[f.path] = None

    def poll(self) -> str:
        parts = []
        for f in self.files:
            try:
                size = f.path.stat().st_size
                offset = self.offsets[f.path]
                if offset is None:
                    offset = 0 if self.start_tail is None else max(0, size - self.start_tail)
                if size < offset:  # truncated or replaced: read it again
                    offset = 0
                with f.path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                    self.offsets[f.path] = fh.tell()
            except OSError:
                continue
            if not chunk:
                continue
            text = chunk.decode("utf-8", "replace")
            if len(self.files) > 1 and self.last != f.path:
                text = ("\n" if self.last is not None else "") + f"==> {f.path} ({f.label}) <==\n" + text
            self.last = f.path
            parts.append(text)
        return "".join(parts)


def follow(files: Sequence[LogFile], done: Callable[[], bool], interval: float = 0.5,
           discover: Callable[[], Sequence[LogFile]] | None = None) -> Iterator[str]:
    """Yield what the files gain until `done()` is true and nothing new arrived; `discover()`
    (when given) names files that may have appeared meanwhile."""
    tail = LogTail(files)
    while True:
        finished = done()
        if discover is not None:
            tail.extend(discover())
        text = tail.poll()
        if text:
            yield text
        elif finished:
            return
        else:
            time.sleep(interval)
