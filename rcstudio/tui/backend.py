"""Everything the dashboard reads or changes, behind one object that workers call (all blocking).

`Backend.snapshot()` is one refresh: the poller's single squeue/sacct call, the registry read, the
latest W&B metrics per run; it times each part so the status bar can say what is slow or down.
Actions (cancel, resubmit) go through `rcstudio.launch`, never to Slurm directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.tui.data import RunRow

if TYPE_CHECKING:
    from rcstudio.tracking.links import Linker

SLOW_S = 2.0


def human_size(size: int) -> str:
    """`532 B`, `4.1 KiB`, `1.3 GiB`."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass
class Health:
    """How the last refresh went, part by part: `ok`, `slow (2.3s)` or `unreachable: ...`."""

    parts: dict[str, str] = field(default_factory=dict)

    def note(self, part: str, started: float, error: BaseException | None = None) -> None:
        took = time.monotonic() - started
        if error is not None:
            self.parts[part] = f"unreachable: {str(error).splitlines()[0][:60] if str(error) else type(error).__name__}"
        elif took > SLOW_S:
            self.parts[part] = f"slow ({took:.1f}s)"
        else:
            self.parts[part] = "ok"

    def line(self) -> str:
        return "  ".join(f"{part}: {status}" for part, status in self.parts.items())

    @property
    def degraded(self) -> bool:
        return any(status != "ok" for status in self.parts.values())


@dataclass
class Snapshot:
    rows: list[RunRow]
    health: Health
    partial: bool = False  # only the newest runs: the full list follows


class Backend:
    """Registry + poller + W&B metrics + launch actions for the dashboard."""

    def __init__(
        self,
        registry: Any = None,
        poll: Callable[[], Any] | None = None,
        metrics: bool = True,
        linker: Linker | None = None,
    ) -> None:
        if registry is None:
            from rcstudio.launch.registry import Registry

            registry = Registry()
        self.registry = registry
        self._poll = poll if poll is not None else self._default_poll
        self.metrics = metrics
        self._linker = linker
        self._metric_cache: dict[str, dict[str, Any]] = {}
        self._poller: Any = None

    @property
    def linker(self) -> Linker:
        """Run -> W&B source; built on first use (its import chain is not needed to paint rows)."""
        if self._linker is None:
            from rcstudio.tracking.links import Linker

            self._linker = Linker()
        return self._linker

    # -- refresh ---------------------------------------------------------------------------
    def _default_poll(self) -> Any:
        """One Poller refresh (one batched call per executor); raises when an executor failed,
        since the Poller itself shrugs failures off to keep `ls` working."""
        from rcstudio.launch.poller import Poller

        if self._poller is None:
            self._poller = Poller(self.registry)
        poller = self._poller
        unfinished = [r for r in self.registry.unfinished() if r.job_id]
        expected = len({r.executor for r in unfinished})
        before = poller.calls
        changes = poller.refresh(unfinished)
        if poller.calls - before < expected:
            failed = expected - (poller.calls - before)
            raise ConnectionError(f"{failed} of {expected} executors did not answer (squeue/sacct)")
        return changes

    def snapshot(self, limit: int | None = None, poll: bool = True) -> Snapshot:
        """One refresh. `limit` reads only the newest runs (the fast first paint); `poll=False`
        skips the scheduler call (used for that first paint, so a slow Slurm cannot delay it)."""
        health = Health()
        if poll:
            started = time.monotonic()
            try:
                self._poll()
                health.note("scheduler", started)
            except Exception as exc:  # the table still shows the last known states
                health.note("scheduler", started, exc)
        started = time.monotonic()
        try:
            records = self.registry.list_runs(limit=limit)
        except Exception as exc:  # noqa: BLE001 - a corrupt registry is shown, not a crash
            health.parts["registry"] = f"unreadable: {getattr(exc, 'message', None) or str(exc)}"[:90]
            return Snapshot([], health)
        health.note("registry", started)
        rows = [RunRow(rec, self._metric_cache.get(rec.run_id, {})) for rec in records]
        if self.metrics:
            started = time.monotonic()
            error: BaseException | None = None
            for row in rows:
                cached = self._metric_cache.get(row.run_id)
                if cached is not None and cached.get("_final"):
                    continue  # finished W&B runs are never re-read
                try:
                    latest = self.linker.latest(row.record)
                except Exception as exc:  # noqa: BLE001 - one bad run must not blank the table
                    error = exc
                    continue
                if row.record.kind == "eval" and row.record.finished and not any(k.startswith("eval/") for k in latest):
                    latest.update(self._eval_results(row.record))  # W&B disabled or not synced: the results file
                    latest["_final"] = True
                if row.record.finished and latest.get("_wandb_state") not in (None, "running"):
                    latest["_final"] = True
                self._metric_cache[row.run_id] = latest
                row.metrics = latest
            health.note("wandb", started, error)
            problems = [row.metrics["_wandb_problem"] for row in rows if row.metrics.get("_wandb_problem")]
            if problems:
                name = Path(problems[0].split(": ", 1)[0]).name
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                health.parts["wandb"] = f"corrupt file {name}{more}"
        return Snapshot(rows, health)

    # -- run view --------------------------------------------------------------------------
    def resolved_spec(self, record: Any) -> str:
        from rcstudio.spec.resolved import RESOLVED_NAME

        path = Path(record.run_dir) / RESOLVED_NAME
        try:
            return path.read_text()
        except OSError as exc:
            return f"# no resolved spec: {exc}"

    def artifacts(self, record: Any) -> list[str]:
        """What the run wrote, by kind, with sizes: results and plots, checkpoints (one line per
        checkpoint directory), logs, compiled files, W&B files."""
        root = Path(record.run_dir)
        if not root.is_dir():
            return []
        sections: list[tuple[str, list[tuple[str, int]]]] = []

        def files(sub: str, pattern: str = "*") -> list[tuple[str, int]]:
            base = root / sub
            if not base.is_dir():
                return []
            return [(str(p.relative_to(root)), p.stat().st_size) for p in sorted(base.rglob(pattern)) if p.is_file()]

        results = files("results")
        plots = [f for f in results if f[0].endswith((".png", ".pdf", ".svg"))]
        sections.append(("results", [f for f in results if f not in plots]))
        sections.append(("plots", plots))
        checkpoints = []
        ckpt_root = root / "checkpoints"
        if ckpt_root.is_dir():
            for d in sorted(ckpt_root.iterdir()):
                size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) if d.is_dir() else d.stat().st_size
                checkpoints.append((str(d.relative_to(root)) + ("/" if d.is_dir() else ""), size))
        sections.append(("checkpoints", checkpoints))
        sections.append(("model", files("model")))
        sections.append(("logs", files("logs")))
        sections.append(("compiled", files("compiled") + [(n, (root / n).stat().st_size) for n in
                                                           ("spec.resolved.toml", "launch.json", "submission.json")
                                                           if (root / n).is_file()]))
        wandb = files("wandb", "*.wandb")
        sections.append(("wandb", wandb))
        lines: list[str] = []
        for title, entries in sections:
            if not entries:
                continue
            lines.append(f"{title} ({len(entries)}, {human_size(sum(s for _, s in entries))})")
            width = max(len(n) for n, _ in entries)
            lines.extend(f"  {name.ljust(width)}  {human_size(size):>9}" for name, size in entries)
        return lines

    def run_logs(self, record: Any) -> list[Any]:
        """The run's output files in reading order (`launch.logs.run_log_files`, as `rcstudio logs`)."""
        from rcstudio.launch.logs import run_log_files

        return run_log_files(record, self.registry)

    def log_files(self, record: Any) -> list[Path]:
        """Paths of the run's output files that exist, in reading order."""
        return [f.path for f in self.run_logs(record) if f.path.is_file()]

    def jobs(self, record: Any) -> list[tuple[str, str]]:
        """(scheduler id, state) of the run's job and array siblings."""
        if not record.job_id:
            return []
        rows = [r for r in self.registry.list_runs(experiment=record.experiment) if r.job_id == record.job_id]
        return [(r.scheduler_id or r.job_id, r.state) for r in sorted(rows, key=lambda r: (r.array_index or 0))]

    def history(self, record: Any, keys: list[str], samples: int | None) -> dict[str, Any]:
        return self.linker.history(record, keys, samples)

    def final_values(self, record: Any, keys: list[str]) -> dict[str, Any]:
        """Each key's final value as a one-point Series (W&B summary, else the eval results file)."""
        import numpy as np

        from rcstudio.tracking.source import Series

        values = self._summary(record)
        return {k: Series(k, np.array([0.0]), np.array([float(values[k])])) for k in keys if k in values}

    def metric_keys(self, record: Any) -> list[str]:
        """Every numeric key the run has (W&B summary and eval results): what compare can offer."""
        from rcstudio.tracking.compare import numeric_keys

        return numeric_keys(self._summary(record))

    @staticmethod
    def _eval_results(record: Any) -> dict[str, Any]:
        from rcstudio.tui.results import eval_metrics

        return eval_metrics(record.run_dir)

    def _summary(self, record: Any) -> dict[str, Any]:
        from rcstudio.tui.results import eval_metrics

        out: dict[str, Any] = dict(eval_metrics(record.run_dir))
        out.update(self.linker.summary(record))
        return {k: v for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def sweep_runs(self, record: Any) -> list[Any]:
        """The runs of the record's experiment (its sweep points and anything else there)."""
        return self.registry.list_runs(experiment=record.experiment)

    def sweep_series(self, records: list[Any], key: str, metrics: list[str]) -> list[tuple[str, Any]]:
        """Per metric, (swept value, final value) over the runs that have it, by swept value."""
        import numpy as np

        from rcstudio.tracking.source import Series

        points: dict[str, list[tuple[float, float]]] = {m: [] for m in metrics}
        for rec in records:
            try:
                values = self._summary(rec)
            except Exception:  # noqa: BLE001 - one unreadable run drops out of the view
                continue
            for metric in metrics:
                if metric in values:
                    points[metric].append((float(rec.point[key]), float(values[metric])))
        out = []
        for metric, pts in points.items():
            if pts:
                pts.sort()
                out.append((metric, Series(metric, np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))))
        return out

    # -- actions ---------------------------------------------------------------------------
    def cancel(self, record: Any) -> str:
        from rcstudio.launch.actions import cancel_run

        cancel_run(self.registry.get(record.run_id), self.registry)
        return f"cancelled {record.name}"

    def resubmit(self, record: Any) -> str:
        from rcstudio.launch.actions import resubmit_run

        new = resubmit_run(self.registry.get(record.run_id), self.registry)
        return f"resubmitted {record.name} as job {new.scheduler_id}"
