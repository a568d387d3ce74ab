"""The seam every training engine plugs into: its spec table, checks, compile step, job steps, metrics.

An engine is a package `rcstudio/engines/<table>/` holding
- `settings.py`: `Settings`, a subclass of `EngineSettings` - the spec table `[rl.<table>]`
  (engine-only keys; shared RL keys stay in `[rl]`). Light imports only: the spec model is
  built from it when `rcstudio.spec` is imported.
- `engine.py`: `Engine`, a subclass of `Engine` below. Light at module level too (the CLI imports
  it to validate specs); heavy imports (torch, hydra, trl) go inside the functions that need them.
and one line in `rcstudio/engines/registry.py`. Nothing else in the tree names an engine.

This module is imported while `rcstudio.spec.models` is being built, so it imports nothing of
`rcstudio.spec` at run time (types only, under TYPE_CHECKING).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from rcstudio.errors import JobFailed

if TYPE_CHECKING:
    from rcstudio.compile.plan import LaunchPlan
    from rcstudio.spec.models import Spec, SpecConflict
    from rcstudio.spec.sweep import RunSpec

# The shared W&B names every engine's training metrics are reported under (the dashboard and
# `rcstudio compare` read these; docs/architecture.md "Tracking").
SHARED_METRICS = (
    "reward/total", "reward/outcome", "reward/rationale", "reward/rc", "reward/ap",
    "reward/format_error_rate", "matcher/latency_ms", "matcher/cache_hit_rate",
)


class EngineSettings(BaseModel):
    """Base of an engine's spec table `[rl.<table>]`: unknown keys are errors.

    `algorithms`: the `rl.algorithm` values the engine runs (the first is what it is known for).
    `moved_from`: old dotted spec keys that now live in this table (old key -> field name); the
    loader turns an old key at its old place into an error naming the new one.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    algorithms: ClassVar[tuple[str, ...]] = ()
    moved_from: ClassVar[dict[str, str]] = {}


S = TypeVar("S", bound=EngineSettings)


@dataclass(frozen=True)
class JobStep:
    """A `rcstudio run-job --step NAME` target as `module:function`, imported only when it runs.

    The function is called as `function(run_dir: Path, spec: Spec)`.
    """

    step: str
    module: str
    function: str

    def load(self) -> Callable[[Path, Any], Any]:
        try:
            return getattr(importlib.import_module(self.module), self.function)  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise JobFailed(f"step {self.step!r} needs {self.module}.{self.function}, which is unavailable: "
                            f"{exc}") from exc


class Engine(ABC, Generic[S]):
    """One training engine. Subclasses set the class attributes and implement the two methods.

    - `name`: the `rl.engine` value ("nemo-aligner"); `table`: its spec table under `[rl]`
      ("nemo_aligner" = `[rl.nemo_aligner]`); `settings`: the pydantic model of that table.
    - `kinds`: the experiment kinds it trains (genrm-train, policy-rlhf).
    - `target`: what its compiled run executes, for `compiled/run.json` ("nemo-aligner 0.7.0 ...").
    - `steps`: its `rcstudio run-job --step` targets; `default_step`: the one `run-job` runs without
      `--step` (None: the run is a compiled script, e.g. a hetjob, not one rcstudio process).
    - `metric_names`: engine metric name -> shared W&B name (SHARED_METRICS), for metrics the engine
      itself logs under its own names; names it already logs as shared need no entry.
    """

    name: ClassVar[str]
    table: ClassVar[str]
    settings: ClassVar[type[EngineSettings]]
    kinds: ClassVar[frozenset[str]]
    target: ClassVar[str] = "rcstudio run-job"
    steps: ClassVar[dict[str, JobStep]] = {}
    default_step: ClassVar[str | None] = None
    metric_names: ClassVar[dict[str, str]] = {}

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.settings.algorithms

    def settings_of(self, spec: Spec) -> S:
        """This engine's table of `spec` (`spec.rl.<table>`), typed."""
        return getattr(spec.rl, self.table)  # type: ignore[no-any-return]

    def check(self, spec: Spec) -> list[SpecConflict]:
        """Cross-field conflicts only this engine has (pure; run while the spec validates).

        The shared checks (algorithm supported, kind supported, batch sizes) run before this.
        """
        return []

    def check_run(self, run: RunSpec) -> None:
        """Compile-time checks (may read files or parse engine syntax); raises UserError.

        `rcstudio validate` and the compile step both run it.
        """

    @abstractmethod
    def plan_artifacts(self, run: RunSpec, run_dir: Path) -> tuple[dict[str, str], LaunchPlan]:
        """The engine's files of the run dir (relative path -> text) and its launch plan; writes nothing.

        `compile/` adds `spec.resolved.toml` and `compiled/run.json` around them.
        """

    def training_rows(self, spec: Spec, work_dir: Path) -> list[dict[str, Any]]:
        """The GenRM training rows this engine's job trains on, as its own data step makes them
        (files read back from `work_dir` where it writes files): one dict per prompt with `prompt`
        (the text before the trainer's chat templating), `id`, `swapped`, `preference` and
        `human_checklist`. Engines build them from `engines.prepare.training_prompts(spec)`, the one
        preparation; tests/engines/test_shared_prep.py checks every engine gets the same rows."""
        raise NotImplementedError(f"engine {self.name} does not expose its training rows (Engine.training_rows)")

    def shared_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """`metrics` with the engine's own names mapped onto the shared ones (others unchanged)."""
        return {self.metric_names.get(k, k): v for k, v in metrics.items()}
