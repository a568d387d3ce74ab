"""Does a run fit the cluster? Slurm partitions' limits (`sinfo`) against a run's resources.

sbatch refuses a job no node can hold with a terse message ("Requested node configuration is not
available"), after part of a sweep may already be in. `rcstudio submit` checks every command plan
first and refuses with the partition's limits and the spec key to change. Parsing and checking are
pure; `query_partitions` is the one `sinfo` call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rcstudio.errors import UserError

SINFO_FORMAT = "%P|%c|%m|%G|%l|%D|%N"


@dataclass(frozen=True)
class Partition:
    """The largest node of a partition (what one task can get at most) and its limits."""

    name: str
    default: bool
    cpus_per_node: int
    mem_mb: int | None  # per node; None = unknown
    gpus_per_node: int
    max_time_min: int | None  # None = infinite
    nodes: int
    node_names: str

    def describe(self) -> str:
        mem = "?" if self.mem_mb is None else f"{self.mem_mb / 1024:.0f} GB"
        limit = "infinite" if self.max_time_min is None else _minutes_text(self.max_time_min)
        gpus = f"{self.gpus_per_node} GPUs" if self.gpus_per_node else "no GPUs"
        return (f"partition {self.name}: {self.nodes} node(s) ({self.node_names}), at most {self.cpus_per_node} CPUs, "
                f"{mem} memory and {gpus} per node, time limit {limit}")


def _minutes_text(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    return (f"{days}-" if days else "") + f"{rest // 60:02d}:{rest % 60:02d}:00"


def _gpus(gres: str) -> int:
    """`gpu:8`, `gpu:a100:4(S:0-1)`, `(null)` -> GPUs per node."""
    total = 0
    for item in gres.split(","):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if m:
            total += int(m.group(1))
    return total


def _time_min(text: str) -> int | None:
    from rcstudio.launch.jobs import time_to_minutes

    text = text.strip()
    if text in ("infinite", "UNLIMITED", "", "n/a"):
        return None
    try:
        return time_to_minutes(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    m = re.match(r"\d+", text.strip())
    return int(m.group(0)) if m else None


def parse_sinfo(lines: Iterable[str]) -> list[Partition]:
    """Partitions from `sinfo -h -o SINFO_FORMAT` lines (one per partition and node kind: the
    largest node of each partition is kept)."""
    found: dict[str, Partition] = {}
    for line in lines:
        fields = line.strip().split("|")
        if len(fields) < 7 or not fields[0]:
            continue
        raw, cpus, mem, gres, limit, nodes, names = fields[:7]
        name = raw.rstrip("*")
        part = Partition(name, raw.endswith("*"), _int(cpus) or 0, _int(mem), _gpus(gres), _time_min(limit),
                         _int(nodes) or 0, names)
        old = found.get(name)
        if old is not None:
            part = Partition(name, old.default or part.default, max(old.cpus_per_node, part.cpus_per_node),
                             max(old.mem_mb or 0, part.mem_mb or 0) or None, max(old.gpus_per_node, part.gpus_per_node),
                             part.max_time_min, old.nodes + part.nodes, f"{old.node_names},{part.node_names}")
        found[name] = part
    return list(found.values())


def query_partitions() -> list[Partition]:
    """The cluster's partitions (empty when sinfo is missing or fails: then sbatch decides)."""
    from rcstudio.launch import slurm

    try:
        proc = slurm._run(["sinfo", "-h", "-o", SINFO_FORMAT], timeout=15)
    except slurm.SlurmError:
        return []
    return parse_sinfo(proc.stdout.splitlines()) if proc.returncode == 0 else []


def misfit(plan: Any, partitions: Sequence[Partition]) -> tuple[str, str, str] | None:
    """(spec key, message, hint) when no node of the run's partition can hold it; None if it fits
    (or nothing is known about the cluster)."""
    from rcstudio.launch.jobs import mem_to_gb, time_to_minutes

    if not partitions:
        return None
    wanted = (getattr(plan, "partition", "") or "").split(",")[0].strip()
    if wanted:
        part = next((p for p in partitions if p.name == wanted), None)
        if part is None:
            return ("cluster.partition", f"partition {wanted!r} does not exist on this cluster",
                    "partitions here: " + "; ".join(p.describe() for p in partitions))
    else:
        part = next((p for p in partitions if p.default), partitions[0])
    limits = part.describe()
    fix = f"or choose another partition with cluster.partition (`sinfo` lists them); {limits}"
    cpus = int(getattr(plan, "cpus_per_task", 0) or 0)
    if part.cpus_per_node and cpus > part.cpus_per_node:
        return ("cluster.cpus_per_task",
                f"asks for {cpus} CPUs per task; {part.name}'s largest node has {part.cpus_per_node}",
                (f"set cluster.cpus_per_task = {part.cpus_per_node} or less "
                 f"(--set cluster.cpus_per_task={part.cpus_per_node}), {fix}"))
    gpus = int(getattr(plan, "gpus_per_node", 0) or 0)
    if gpus > part.gpus_per_node:
        have = f"{part.gpus_per_node} GPUs" if part.gpus_per_node else "no GPUs"
        return ("cluster.gpus_per_node", f"asks for {gpus} GPUs per node; {part.name}'s nodes have {have}",
                f"set cluster.gpus_per_node = {part.gpus_per_node}, {fix}")
    nodes = int(getattr(plan, "nodes", 1) or 1)
    if part.nodes and nodes > part.nodes:
        return ("cluster.nodes", f"asks for {nodes} nodes; {part.name} has {part.nodes}",
                f"set cluster.nodes = {part.nodes} or less, {fix}")
    mem = getattr(plan, "mem", "") or ""
    if mem and part.mem_mb:
        gb = mem_to_gb(mem)
        if gb is not None and gb * 1024 > part.mem_mb:
            return ("cluster.mem", f"asks for {mem} per node; {part.name}'s largest node has {part.mem_mb / 1024:.0f} GB",
                    f"lower cluster.mem, {fix}")
    time_text = getattr(plan, "time", "") or ""
    if time_text and part.max_time_min is not None and time_to_minutes(time_text) > part.max_time_min:
        return ("cluster.time", f"asks for {time_text}; {part.name}'s time limit is {_minutes_text(part.max_time_min)}",
                f"set cluster.time = \"{_minutes_text(part.max_time_min)}\" or less, {fix}")
    return None


def check_runs(subs: Sequence[Any], partitions: Sequence[Partition]) -> None:
    """UserError (nothing submitted) for the first run whose resources no node can satisfy."""
    for sub in subs:
        if getattr(sub.plan, "mode", "command") != "command":
            continue  # a hetjob script carries its own #SBATCH lines; sbatch checks those
        found = misfit(sub.plan, partitions)
        if found is not None:
            key, message, hint = found
            raise UserError(f"run {sub.run_id} {message}: no node can run it", key=key, hint=hint)
