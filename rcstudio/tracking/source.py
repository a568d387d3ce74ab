"""One interface for run metrics, whether they come from `.wandb` files or the W&B API.

The dashboard and `rcstudio compare` only talk to `MetricSource`; `OfflineSource`
(tracking/offline.py) and `OnlineSource` (tracking/online.py) implement it. Histories come back
as numpy `Series`, downsampled with `downsample` (min/max per bucket, so spikes survive).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are made: listing runs needs none
    import numpy as np

# W&B run states, as the W&B API spells them
RUNNING, FINISHED, FAILED, CRASHED, KILLED = "running", "finished", "failed", "crashed", "killed"
TERMINAL_STATES = frozenset({FINISHED, FAILED, CRASHED, KILLED})


@dataclass(frozen=True)
class RunRef:
    """A W&B run a source can read: `key` is unique within the source."""

    key: str
    id: str
    name: str = ""
    project: str = ""
    entity: str = ""
    group: str = ""
    job_type: str = ""
    path: Path | None = None  # the .wandb file of an offline run


@dataclass
class Series:
    """One metric over steps."""

    key: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)

    def last(self) -> float | None:
        return float(self.values[-1]) if len(self.values) else None


class MetricSource(ABC):
    """Where run metrics come from. Implementations may block (files, network): call from workers."""

    @abstractmethod
    def runs(self) -> list[RunRef]:
        """The runs this source can read."""

    @abstractmethod
    def config(self, run: RunRef) -> dict[str, Any]:
        """The run's config (for rcstudio jobs: the resolved spec as a dict)."""

    @abstractmethod
    def summary(self, run: RunRef) -> dict[str, Any]:
        """Latest value of each metric (wandb's summary; internal `_wandb` removed)."""

    @abstractmethod
    def history(
        self, run: RunRef, keys: Sequence[str], samples: int | None = None
    ) -> dict[str, Series]:
        """Each requested metric over steps, at most `samples` points per metric when given."""

    @abstractmethod
    def state(self, run: RunRef) -> str:
        """running | finished | failed | crashed | killed."""

    def problem(self, run: RunRef) -> str | None:
        """Why this run's data could only be read in part (a corrupt file), or None."""
        return None

    def find(self, run_id: str) -> RunRef | None:
        """The run with W&B id `run_id`, or None."""
        for ref in self.runs():
            if ref.id == run_id:
                return ref
        return None


def downsample(steps: np.ndarray, values: np.ndarray, samples: int | None) -> tuple[np.ndarray, np.ndarray]:
    """At most `samples` points that keep the shape: the min and max of each of samples/2 buckets.

    Pure numpy (no per-point Python), so a 100k-step metric fits a terminal width in milliseconds.
    """
    import numpy as np

    n = len(steps)
    if samples is None or samples <= 0 or n <= samples:
        return steps, values
    buckets = max(1, samples // 2)
    size = -(-n // buckets)  # ceil
    pad = buckets * size - n
    vals = np.asarray(values, dtype=float)
    padded = np.concatenate([vals, np.full(pad, np.nan)]) if pad else vals
    grid = padded.reshape(buckets, size)
    finite = ~np.isnan(grid)
    rows = finite.any(axis=1)
    low = np.where(finite, grid, np.inf).argmin(axis=1)
    high = np.where(finite, grid, -np.inf).argmax(axis=1)
    base = np.arange(buckets) * size
    first = np.minimum(low, high) + base
    second = np.maximum(low, high) + base
    idx = np.stack([first, second], axis=1)[rows].ravel()
    idx = np.unique(idx)  # sorted, and a flat bucket gives one point
    idx = idx[idx < n]
    return np.asarray(steps)[idx], np.asarray(values)[idx]


def group_runs(refs: Iterable[RunRef]) -> dict[str, list[RunRef]]:
    """Runs by their base id: an actor `X` and its reward server `X-rm` land in the same group."""
    groups: dict[str, list[RunRef]] = {}
    for ref in refs:
        base = ref.id[: -len("-rm")] if ref.id.endswith("-rm") else ref.id
        groups.setdefault(base, []).append(ref)
    for members in groups.values():
        members.sort(key=lambda r: (r.id.endswith("-rm"), r.id))
    return groups
