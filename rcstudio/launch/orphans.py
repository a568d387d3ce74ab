"""Run directories no registry row owns: left by a submit killed between claiming and recording.

A submit claims each run id in the registry before it writes the run dir and drops the claim in the
same transaction that records the run, so a dir is an orphan when (a) its claim's owner is dead, or
(b) it sits under a runs root with neither a row nor a live claim (a dir older than claims, or a
registry that was replaced). The next submit cleans (a) as it goes; `rcstudio gc` lists and removes
both.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rcstudio import paths
from rcstudio.launch.registry import Claim, Registry


@dataclass(frozen=True)
class Orphan:
    path: Path
    reason: str
    claim: Claim | None = None


def _remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    parent = path.parent
    try:  # the experiment dir, when the orphan was all it held
        if [p.name for p in parent.iterdir()] in ([], [".submitit"]):
            shutil.rmtree(parent / ".submitit", ignore_errors=True)
            parent.rmdir()
    except OSError:
        pass


def stale_claims(registry: Registry) -> list[Orphan]:
    """Claims whose submit died before recording its runs."""
    out = []
    for claim in registry.claims():
        if not claim.alive and registry.find(claim.run_id) is None:
            out.append(Orphan(Path(claim.run_dir), f"left by a killed submit (pid {claim.pid} on {claim.host})",
                              claim))
    return out


def _cancel_jobs(claim: Claim) -> None:
    """Cancel jobs a killed submit had already submitted (best effort: they may have ended)."""
    from rcstudio.launch.executors import executor_for
    from rcstudio.launch.jobs import JobRef

    for executor, job_id, mode, folder in [(j + ["", "", "", ""])[:4] for j in claim.job_refs]:
        if not job_id:
            continue
        try:
            executor_for(executor).cancel(JobRef(job_id, executor, mode, None, folder))
        except Exception:  # noqa: BLE001 - the job may be gone already
            pass


def reap_stale_claims(registry: Registry) -> list[Orphan]:
    """Remove what killed submits left (their jobs, dirs and claims); what the next submit does first."""
    reaped = []
    for orphan in stale_claims(registry):
        if registry.drop_claim(orphan.claim):  # another submit may have reaped or taken it meanwhile
            _cancel_jobs(orphan.claim)
            _remove_dir(orphan.path)
            reaped.append(orphan)
    return reaped


def _roots(registry: Registry) -> set[Path]:
    roots = {paths.runs_root()}
    for run in registry.list_runs():
        roots.add(Path(run.run_dir).parent.parent)
    return {r for r in roots if r.is_dir()}


# What a run dir holds (any of it); an empty dir is a submit killed right after mkdir.
_RUN_DIR_MARKS = ("spec.resolved.toml", "launch.json", "submission.json", "compiled", "logs")


def _looks_like_run_dir(run_dir: Path, experiment: str) -> bool:
    """Only dirs named like a run id of their experiment (`<experiment>-<8 hex>[-N]`) that hold run
    files (or nothing) count: a runs root may be shared with other tools' directories."""
    if not re.fullmatch(re.escape(experiment) + r"-[0-9a-f]{8}(-\d+)?", run_dir.name):
        return False
    try:
        names = {p.name for p in run_dir.iterdir()}
    except OSError:
        return False
    return not names or any(mark in names for mark in _RUN_DIR_MARKS)


def find_orphans(registry: Registry) -> list[Orphan]:
    """Every orphan run dir: stale claims plus unowned run dirs under the known runs roots."""
    found = {o.path: o for o in stale_claims(registry)}
    live = {Path(c.run_dir) for c in registry.claims() if c.alive}
    registered = {Path(r.run_dir) for r in registry.list_runs()}
    for root in sorted(_roots(registry)):
        for experiment in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for run_dir in sorted(p for p in experiment.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if run_dir in registered or run_dir in live or run_dir in found:
                    continue
                if not _looks_like_run_dir(run_dir, experiment.name):
                    continue
                found[run_dir] = Orphan(run_dir, "no registry row")
    return list(found.values())


def remove_orphans(registry: Registry, orphans: list[Orphan]) -> list[Orphan]:
    """Remove the given orphans, re-checking each (a submit may have recorded it meanwhile)."""
    removed = []
    for orphan in orphans:
        if orphan.claim is not None:
            if not registry.drop_claim(orphan.claim):
                continue
            _cancel_jobs(orphan.claim)
        elif any(Path(r.run_dir) == orphan.path for r in registry.existing([orphan.path.name])):
            continue
        elif (c := registry.claim_holder(orphan.path.name)) is not None and c.alive:
            continue
        _remove_dir(orphan.path)
        removed.append(orphan)
    return removed
