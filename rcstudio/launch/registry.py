"""The run registry: one SQLite file (WAL) that every command, the poller and the TUI share.

Two tables: `runs` (one row per run: state, paths, spec hash, W&B reference) and `jobs` (one row per
scheduler submission: a single job, a job array or a hetjob; a sweep of N runs is one job). WAL mode
and a busy timeout let the TUI read while `submit` and the poller write. Secrets never reach it: rows
hold names, paths, hashes and W&B *references* (mode, entity, project, id, group, dir), never keys.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rcstudio import paths
from rcstudio.errors import UserError

STATES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "UNKNOWN")
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "UNKNOWN"})

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    experiment  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    engine      TEXT NOT NULL DEFAULT '',
    executor    TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    started_at  REAL,
    ended_at    REAL,
    run_dir     TEXT NOT NULL,
    spec_hash   TEXT NOT NULL,
    point       TEXT NOT NULL DEFAULT '{}',
    tags        TEXT NOT NULL DEFAULT '[]',
    job_id      TEXT,
    array_index INTEGER,
    wandb       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment);
CREATE INDEX IF NOT EXISTS runs_state ON runs(state);
CREATE INDEX IF NOT EXISTS runs_spec_hash ON runs(spec_hash);
CREATE INDEX IF NOT EXISTS runs_job ON runs(job_id);
-- newest first (list_runs' order): the dashboard's first page reads 200 rows, not a sort of all
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at DESC, run_id);
CREATE TABLE IF NOT EXISTS jobs (
    job_id       TEXT PRIMARY KEY,
    executor     TEXT NOT NULL,
    mode         TEXT NOT NULL,
    folder       TEXT NOT NULL DEFAULT '',
    submitted_at REAL NOT NULL,
    n_tasks      INTEGER NOT NULL DEFAULT 1,
    meta         TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS claims (
    run_id      TEXT PRIMARY KEY,
    run_dir     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    jobs        TEXT NOT NULL DEFAULT '[]'
);
"""

# A claim whose owner runs on another host cannot be probed; it counts as abandoned after this long.
FOREIGN_CLAIM_TTL_S = 6 * 3600


def now() -> float:
    return time.time()


def _owner_alive(pid: int, host: str, created_at: float) -> bool:
    """Whether the submit that took a claim may still be running (a killed one left it behind)."""
    if host != socket.gethostname():
        return now() - created_at < FOREIGN_CLAIM_TTL_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Claim:
    """A run id a submit has reserved before writing its run dir (released when rows are written)."""

    run_id: str
    run_dir: str
    pid: int
    host: str
    created_at: float
    jobs: str = "[]"  # JSON [[executor, job_id, mode, folder]] once submitted, before the rows exist

    @property
    def job_refs(self) -> list[list[str]]:
        try:
            return [list(map(str, j)) for j in json.loads(self.jobs or "[]")]
        except (ValueError, TypeError):
            return []

    @property
    def alive(self) -> bool:
        return _owner_alive(self.pid, self.host, self.created_at)


@dataclass
class RunRecord:
    """One run as the registry stores it (the field names are a contract, docs/architecture.md)."""

    run_id: str
    name: str
    experiment: str
    kind: str
    engine: str
    executor: str
    state: str
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None
    run_dir: str
    spec_hash: str
    point: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    job_id: str | None = None
    array_index: int | None = None
    wandb: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def scheduler_id(self) -> str | None:
        """The id Slurm knows this run's job by (`123_4` for array task 4 of job 123)."""
        if self.job_id is None:
            return None
        return self.job_id if self.array_index is None else f"{self.job_id}_{self.array_index}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobRecord:
    """One scheduler submission; `folder` is submitit's folder (for re-attaching), `mode` is
    single | array | hetjob | local."""

    job_id: str
    executor: str
    mode: str
    folder: str
    submitted_at: float
    n_tasks: int = 1
    meta: dict[str, Any] = field(default_factory=dict)


_JSON_FIELDS = {"point", "tags", "wandb"}
_IN_CHUNK = 500  # ids per `IN (...)` query, well under SQLite's bound-parameter limit
_RUN_COLUMNS = [f.name for f in fields(RunRecord)]


_PRIMITIVE = (str, int, float, bool, type(None))


def _row_to_run(row: sqlite3.Row, memo: dict[str, Any] | None = None) -> RunRecord:
    """A registry row as a RunRecord. `memo` (text -> decoded value) shares the JSON decoding
    between rows of one query: a sweep's runs repeat the same few points, tags and W&B links,
    and decoding them is most of the time of listing 10,000 runs. Only flat values are memoised,
    so the shallow copy each record gets is a full copy (records never share mutable state)."""
    data = dict(zip(row.keys(), row)) if len(row) == len(_RUN_COLUMNS) else {k: row[k] for k in _RUN_COLUMNS}
    for key in _JSON_FIELDS:
        text = data[key]
        if not text:
            data[key] = {} if key != "tags" else []
            continue
        hit = memo.get(text) if memo is not None else None
        if hit is None:
            hit = json.loads(text)
            values = hit.values() if isinstance(hit, dict) else hit
            if memo is None or not isinstance(hit, (dict, list)) or not all(isinstance(v, _PRIMITIVE) for v in values):
                data[key] = hit
                continue
            memo[text] = hit
        data[key] = hit.copy()
    return RunRecord(**data)


def _run_to_row(record: RunRecord) -> tuple[Any, ...]:
    values = []
    for name in _RUN_COLUMNS:
        value = getattr(record, name)
        if name in _JSON_FIELDS:
            value = json.dumps(value, sort_keys=True, default=str)
        values.append(value)
    return tuple(values)


# sqlite3 messages that mean the file itself is unusable (not a busy or a constraint error).
_DAMAGED = ("not a database", "malformed", "unable to open", "disk i/o", "file is encrypted", "no such table")


def _damaged(exc: BaseException) -> bool:
    return any(m in str(exc).lower() for m in _DAMAGED)


def registry_error(path: Path, exc: BaseException) -> UserError:
    """A damaged or unreadable registry file: what it is and how to get going again."""
    if path.is_dir():
        what = "is a directory, not the registry file"
    elif _damaged(exc):
        what = f"is damaged or not an rcstudio registry ({exc})"
    else:
        what = f"cannot be read ({exc})"
    return UserError(
        f"the run registry {what}", file=path,
        hint=f"keep a copy (cp {path} {path}.bak); try `sqlite3 {path} .recover | sqlite3 {path}.recovered` "
             f"and move the recovered file into place; or move {path.name} aside and rcstudio starts an empty "
             "registry (run dirs stay on disk; `rcstudio gc --dry-run` lists them)")


class Registry:
    """SQLite registry of runs and jobs at `path` (default `paths.registry_path()`).

    Every method opens a short connection, so one Registry object is safe to share between threads
    (the TUI's workers) and processes (poller, CLI) alike.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.registry_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir():
            raise registry_error(self.path, IsADirectoryError(str(self.path)))
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # stored in the file: once, not per connection
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    # -- plumbing -------------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)  # timeout = busy timeout
        except sqlite3.Error as exc:
            raise registry_error(self.path, exc) from None
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError) or not _damaged(exc):
                raise
            raise registry_error(self.path, exc) from None
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- runs -----------------------------------------------------------------------------------
    def add_runs(self, records: Sequence[RunRecord], jobs: JobRecord | Sequence[JobRecord] = ()) -> None:
        """Insert runs (and their jobs) in one transaction: all rows or none."""
        placeholders = ", ".join("?" for _ in _RUN_COLUMNS)
        sql = f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({placeholders})"
        with self._transaction() as conn:
            for job in [jobs] if isinstance(jobs, JobRecord) else jobs:
                self._insert_job(conn, job)
            ids = [r.run_id for r in records]
            taken = [i for i in ids if self._exists(conn, i)] or [i for i in ids if ids.count(i) > 1]
            if taken:
                raise UserError(f"run {taken[0]} is already registered",
                                hint="use --force to submit it again under a new id")
            conn.executemany(sql, [_run_to_row(r) for r in records])
            conn.executemany("DELETE FROM claims WHERE run_id = ?", [(i,) for i in ids])

    # -- claims (atomic submission) -------------------------------------------------------------
    def claim(self, run_id: str, run_dir: str | Path) -> Claim | None:
        """Reserve `run_id` for this process before any file is written.

        Returns None when it is taken: registered, or claimed by a submit that is still alive. A
        claim left by a dead submit is taken over (the returned Claim of the caller replaces it; the
        caller then owns whatever that submit left in the run dir).
        """
        claim = Claim(run_id, str(run_dir), os.getpid(), socket.gethostname(), now())
        with self._transaction() as conn:
            if self._exists(conn, run_id):
                return None
            row = conn.execute("SELECT * FROM claims WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None and Claim(**{k: row[k] for k in row.keys()}).alive:
                return None
            conn.execute("INSERT OR REPLACE INTO claims (run_id, run_dir, pid, host, created_at, jobs)"
                         " VALUES (?, ?, ?, ?, ?, ?)", dataclasses.astuple(claim))
        return claim

    def note_claim_jobs(self, jobs: Mapping[str, list[str]]) -> None:
        """Remember the jobs submitted for claimed runs ({run_id: [executor, job_id, mode, folder]}),
        so a submit killed before recording them has its jobs cancelled by the next one."""
        with self._transaction() as conn:
            for run_id, job in jobs.items():
                conn.execute("UPDATE claims SET jobs = ? WHERE run_id = ? AND pid = ? AND host = ?",
                             (json.dumps([job]), run_id, os.getpid(), socket.gethostname()))

    def claim_holder(self, run_id: str) -> Claim | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM claims WHERE run_id = ?", (run_id,)).fetchone()
        return Claim(**{k: row[k] for k in row.keys()}) if row is not None else None

    def release(self, run_ids: Sequence[str]) -> None:
        """Drop this process's claims (after a failed or dry-run submit)."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM claims WHERE run_id = ? AND pid = ? AND host = ?",
                             [(i, os.getpid(), socket.gethostname()) for i in run_ids])

    def claims(self) -> list[Claim]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM claims ORDER BY created_at").fetchall()
        return [Claim(**{k: r[k] for k in r.keys()}) for r in rows]

    def drop_claim(self, claim: Claim) -> bool:
        """Remove an abandoned claim (only if it is still the same one); True when it was removed."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM claims WHERE run_id = ? AND pid = ? AND created_at = ?",
                               (claim.run_id, claim.pid, claim.created_at))
        return cur.rowcount > 0

    @staticmethod
    def _select_in(conn: sqlite3.Connection, table: str, column: str, values: Sequence[Any],
                   order: str = "") -> Iterator[sqlite3.Row]:
        """Rows of `table` whose `column` is one of `values` (chunked `IN` queries)."""
        for start in range(0, len(values), _IN_CHUNK):
            chunk = list(values[start:start + _IN_CHUNK])
            sql = f"SELECT * FROM {table} WHERE {column} IN ({', '.join('?' for _ in chunk)}){order}"
            yield from conn.execute(sql, chunk).fetchall()

    @staticmethod
    def _exists(conn: sqlite3.Connection, run_id: str) -> bool:
        return conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def get(self, run_id_or_prefix: str) -> RunRecord:
        """The run a user named: its id, a unique run name (`genrm-additive-alpha0.8`),
        `experiment/name`, or a unique prefix of its id - tried in that order, so a unique name
        keeps resolving when other runs' ids share its prefix. UserError otherwise."""
        key = run_id_or_prefix.strip()
        if not key:
            raise UserError("empty run id", hint="`rcstudio ls` lists run ids")
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (key,)).fetchone()
            if row is not None:
                return _row_to_run(row)
            rows = conn.execute("SELECT * FROM runs WHERE name = ? ORDER BY created_at LIMIT 6", (key,)).fetchall()
            if not rows and "/" in key:
                experiment, _, name = key.partition("/")
                rows = conn.execute(
                    "SELECT * FROM runs WHERE experiment = ? AND (name = ? OR run_id = ?) ORDER BY created_at LIMIT 6",
                    (experiment, name, name),
                ).fetchall()
            if not rows:
                escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                rows = conn.execute(
                    "SELECT * FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY created_at LIMIT 6",
                    (escaped + "%",),
                ).fetchall()
        if len(rows) == 1:
            return _row_to_run(rows[0])
        if not rows:
            raise UserError(f"no run matches {key!r}", key="RUN",
                            hint="name a run by id, unique name or EXPERIMENT/NAME; `rcstudio ls` lists them")
        shown = ", ".join(f"{r['run_id']} ({r['experiment']}/{r['name']})" for r in rows[:5])
        raise UserError(
            f"{key!r} is ambiguous: it matches {shown}{' ...' if len(rows) > 5 else ''}",
            key="RUN",
            hint="give the run id (or more of its characters)",
        )

    def find(self, run_id: str) -> RunRecord | None:
        """Exact lookup, None when absent."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _row_to_run(row) if row is not None else None

    def existing(self, run_ids: Sequence[str], spec_hashes: Sequence[str] = ()) -> list[RunRecord]:
        """Registered runs with any of these ids or spec hashes (one query; duplicate detection)."""
        ids, hashes = list(run_ids), list(spec_hashes)
        found: dict[str, RunRecord] = {}
        with self._connect() as conn:
            for column, values in (("run_id", ids), ("spec_hash", hashes)):
                for row in self._select_in(conn, "runs", column, values, " ORDER BY created_at"):
                    found.setdefault(row["run_id"], _row_to_run(row))
        return list(found.values())

    def list_runs(
        self,
        experiment: str | None = None,
        state: str | Iterable[str] | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, filtered by experiment, state (one or several) and tag."""
        clauses, args = [], []
        if experiment:
            clauses.append("experiment = ?")
            args.append(experiment)
        if state:
            states = [state] if isinstance(state, str) else list(state)
            states = [s.upper() for s in states]
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            args.extend(states)
        if tag:
            clauses.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = ?)")
            args.append(tag)
        sql = "SELECT * FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC, run_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        memo: dict[str, Any] = {}
        return [_row_to_run(r, memo) for r in rows]

    def unfinished(self) -> list[RunRecord]:
        return self.list_runs(state=sorted(ACTIVE_STATES))

    def update_states(self, states: Mapping[str, str]) -> int:
        """Set states in one transaction; stamps started_at/ended_at on the first RUNNING/terminal
        state. Returns how many rows changed."""
        if not states:
            return 0
        t = now()
        changed = 0
        with self._transaction() as conn:
            for run_id, state in states.items():
                state = state.upper()
                if state not in STATES:
                    raise ValueError(f"unknown state {state!r}")
                started = t if state in {"RUNNING", *TERMINAL_STATES} else None
                ended = t if state in TERMINAL_STATES else None
                cur = conn.execute(
                    "UPDATE runs SET state = ?, updated_at = ?,"
                    " started_at = COALESCE(started_at, ?), ended_at = COALESCE(ended_at, ?)"
                    " WHERE run_id = ? AND state != ?",
                    (state, t, started, ended, run_id, state),
                )
                changed += cur.rowcount
        return changed

    def set_times(self, times: Mapping[str, tuple[float | None, float | None]]) -> None:
        """Overwrite started_at/ended_at with the times a job recorded itself (sacct Start/End, or
        the run dir's job-times record); a None leaves that column as it is."""
        if not times:
            return
        with self._transaction() as conn:
            for run_id, (start, end) in times.items():
                conn.execute(
                    "UPDATE runs SET started_at = COALESCE(?, started_at), ended_at = COALESCE(?, ended_at)"
                    " WHERE run_id = ?", (start, end, run_id))

    def set_job(self, run_ids: Sequence[str], job_id: str | None, array_indices: Sequence[int | None] | None = None,
                state: str = "PENDING", executor: str | None = None) -> None:
        """Point runs at a (new) job, e.g. after `resubmit`; clears the old timing."""
        indices = list(array_indices) if array_indices is not None else [None] * len(run_ids)
        t = now()
        with self._transaction() as conn:
            for run_id, index in zip(run_ids, indices, strict=True):
                conn.execute(
                    "UPDATE runs SET job_id = ?, array_index = ?, state = ?, updated_at = ?,"
                    " started_at = NULL, ended_at = NULL, executor = COALESCE(?, executor)"
                    " WHERE run_id = ?",
                    (job_id, index, state, t, executor, run_id),
                )

    def delete(self, run_id: str) -> None:
        """Remove a run (and its job when no other run points at it)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT job_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            if row is not None and row["job_id"] is not None:
                conn.execute(
                    "DELETE FROM jobs WHERE job_id = ? AND NOT EXISTS"
                    " (SELECT 1 FROM runs WHERE runs.job_id = jobs.job_id)",
                    (row["job_id"],),
                )

    # -- jobs -----------------------------------------------------------------------------------
    @staticmethod
    def _insert_job(conn: sqlite3.Connection, job: JobRecord) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO jobs (job_id, executor, mode, folder, submitted_at, n_tasks, meta)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job.job_id, job.executor, job.mode, job.folder, job.submitted_at, job.n_tasks,
             json.dumps(job.meta, sort_keys=True, default=str)),
        )

    def add_job(self, job: JobRecord) -> None:
        with self._transaction() as conn:
            self._insert_job(conn, job)

    def get_job(self, job_id: str) -> JobRecord | None:
        return self.jobs([job_id]).get(job_id)

    def jobs(self, job_ids: Sequence[str]) -> dict[str, JobRecord]:
        """Job rows by id, in one query."""
        ids = list(dict.fromkeys(job_ids))
        out: dict[str, JobRecord] = {}
        with self._connect() as conn:
            for row in self._select_in(conn, "jobs", "job_id", ids):
                out[row["job_id"]] = JobRecord(
                    job_id=row["job_id"], executor=row["executor"], mode=row["mode"], folder=row["folder"],
                    submitted_at=row["submitted_at"], n_tasks=row["n_tasks"],
                    meta=json.loads(row["meta"] or "{}"))
        return out
