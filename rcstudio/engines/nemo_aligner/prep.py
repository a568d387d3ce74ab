"""The NeMo-Aligner `prepare` step: the shared prep (engines/prepare.py) plus the actor's run-time overrides.

Only prep knows how many prompts survive (items held out, prompts over rl.max_prompt_tokens dropped),
and v0.7.0's LR horizon and validation sample count depend on it, so prep writes them to
`data/actor_overrides.txt`, which the hetjob appends to the actor's overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rcstudio.engines import prepare
from rcstudio.errors import JobFailed
from rcstudio.spec.models import Spec


def actor_overrides(spec: Spec, train_prompts: int, val_prompts: int) -> list[str]:
    """The run-time overrides (batching.py has the derivations); too few validation prompts fail here."""
    from rcstudio.engines.nemo_aligner import batching as nb

    steps = nb.optimizer_steps(spec, train_prompts)
    sched = nb.sched_values(spec, steps)
    val_samples = nb.val_samples(spec, val_prompts)
    if val_samples == 0 and not spec.rl.nemo_aligner.actor_command:  # type: ignore[attr-defined]
        raise JobFailed(
            f"{val_prompts} validation prompts (after dropping those over rl.max_prompt_tokens) are fewer "
            "than one validation rollout batch (rollout_micro_batch_size x data-parallel size): NeMo-Aligner "
            "v0.7.0 would fail with IndexError at its first validation; raise data.val_items")
    return [f"++model.optim.sched.max_steps={sched['max_steps']}",
            f"model.reinforce.num_val_samples={val_samples}"]


def prepare_actor_data(run_dir: Path, spec: Spec) -> dict[str, Any]:
    """`rcstudio run-job --step prepare` on a NeMo-Aligner run (het group 0, before the reward server)."""
    return prepare.prepare_data(run_dir, spec, actor_overrides=actor_overrides)
