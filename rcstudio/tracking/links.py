"""From registry rows to W&B runs: `RunRecord.wandb` (mode, entity, project, id, group, dir) says
where a run's metrics live. Offline and disabled-but-written runs are read from their `.wandb`
files; online runs through the W&B API. Grouped runs (actor `X` + reward server `X-rm`) resolve
together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcstudio.tracking.offline import OfflineSource
from rcstudio.tracking.source import MetricSource, RunRef, Series

KEY_METRICS = ("reward/total", "reward/outcome", "reward/rationale")


@dataclass
class LinkedRun:
    """A registry run with the W&B runs that belong to it (the actor first, then `-rm`)."""

    run_id: str
    source: MetricSource | None
    refs: list[RunRef] = field(default_factory=list)

    @property
    def main(self) -> RunRef | None:
        return self.refs[0] if self.refs else None


def wandb_dir(record: Any) -> Path:
    link = getattr(record, "wandb", None) or {}
    if link.get("dir"):
        return Path(link["dir"])
    return Path(record.run_dir) / "wandb"


def wandb_url(record: Any) -> str:
    """The W&B page of an online run, or the local directory of an offline one."""
    link = getattr(record, "wandb", None) or {}
    if link.get("mode") == "online" and link.get("entity") and link.get("project"):
        return f"https://wandb.ai/{link['entity']}/{link['project']}/runs/{link.get('id') or record.run_id}"
    return str(wandb_dir(record))


class Linker:
    """Resolves registry rows to metric sources, one source per W&B location (cached)."""

    def __init__(self, online_factory: Any = None) -> None:
        self._offline: dict[Path, OfflineSource] = {}
        self._online: dict[tuple[str, str], MetricSource] = {}
        self._online_factory = online_factory

    def source_for(self, record: Any) -> MetricSource | None:
        link = getattr(record, "wandb", None) or {}
        mode = link.get("mode", "offline")
        if mode == "disabled":
            return None
        if mode == "online":
            key = (link.get("entity", ""), link.get("project", ""))
            if key not in self._online:
                factory = self._online_factory
                if factory is None:
                    from rcstudio.tracking.online import OnlineSource

                    factory = OnlineSource
                self._online[key] = factory(entity=key[0], project=key[1])
            return self._online[key]
        root = wandb_dir(record)
        if root not in self._offline:
            self._offline[root] = OfflineSource([root])
        return self._offline[root]

    def link(self, record: Any) -> LinkedRun:
        source = self.source_for(record)
        if source is None:
            return LinkedRun(record.run_id, None)
        base = (getattr(record, "wandb", None) or {}).get("id") or record.run_id
        refs = []
        for wid in (base, base + "-rm"):
            ref = source.find(wid)
            if ref is not None:
                refs.append(ref)
        return LinkedRun(record.run_id, source, refs)

    def latest(self, record: Any, keys: tuple[str, ...] = KEY_METRICS) -> dict[str, Any]:
        """Latest values of `keys` (from the actor, falling back to the reward server), plus state."""
        linked = self.link(record)
        out: dict[str, Any] = {}
        if linked.source is None:
            return out
        for ref in linked.refs:
            summary = linked.source.summary(ref)
            for key in keys:
                if key not in out and key in summary:
                    out[key] = summary[key]
            for key, value in summary.items():
                if key.startswith("eval/") and key not in out:
                    out[key] = value
        if linked.main is not None:
            out["_wandb_state"] = linked.source.state(linked.main)
        problems = self._problems(record, linked)
        if problems:
            out["_wandb_problem"] = problems[0]
        return out

    def problems(self, record: Any) -> list[str]:
        """Why a run's W&B data is incomplete (corrupt files), for messages that say "no history"."""
        return self._problems(record, self.link(record))

    @staticmethod
    def _problems(record: Any, linked: LinkedRun) -> list[str]:
        if linked.source is None:
            return []
        found = [p for p in (linked.source.problem(ref) for ref in linked.refs) if p]
        if not found and isinstance(linked.source, OfflineSource):
            base = (getattr(record, "wandb", None) or {}).get("id") or record.run_id
            found = linked.source.file_problems([base, base + "-rm"])
        return found

    def summary(self, record: Any) -> dict[str, Any]:
        """Every summary value of the run's W&B runs (the actor's win over the reward server's)."""
        linked = self.link(record)
        out: dict[str, Any] = {}
        if linked.source is None:
            return out
        for ref in reversed(linked.refs):
            out.update(linked.source.summary(ref))
        return out

    def history(self, record: Any, keys: list[str], samples: int | None = None) -> dict[str, Series]:
        """Each key's history from whichever of the grouped runs logged it."""
        linked = self.link(record)
        if linked.source is None:
            return {}
        return merged_history(linked.source, linked.refs, keys, samples)


def merged_history(
    source: MetricSource, refs: Sequence[RunRef], keys: Sequence[str], samples: int | None = None
) -> dict[str, Series]:
    """Each key's history from the first of `refs` (actor, then `-rm`) that logged it; a key none
    logged maps to an empty series."""
    out: dict[str, Series] = {}
    for ref in refs:
        missing = [k for k in keys if k not in out or len(out[k]) == 0]
        if not missing:
            break
        for key, series in source.history(ref, missing, samples).items():
            if len(series) or key not in out:
                out[key] = series
    return out
