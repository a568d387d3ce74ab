"""A registry of four alpha-sweep runs with real offline W&B metrics, fixed times for snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.tracking.synthetic import write_run
from rcstudio.tracking.wandb_log import wandb_link

T0 = 1_790_000_000.0  # fixed clock for deterministic screens
ALPHAS = (0.0, 0.5, 0.8, 1.0)
STATES = ("COMPLETED", "RUNNING", "FAILED", "PENDING")


@pytest.fixture(scope="session")
def metric_runs(tmp_path_factory) -> Path:
    """Four run dirs, each with an offline W&B run (actor; alpha 0.8 also has its reward server)."""
    root = tmp_path_factory.mktemp("runs")
    for i, alpha in enumerate(ALPHAS):
        run_id = f"genrm-additive-{i:08x}"
        run_dir = root / "genrm-additive" / run_id
        (run_dir / "compiled").mkdir(parents=True)
        (run_dir / "logs").mkdir()
        (run_dir / "compiled" / "overrides.txt").write_text(f"++model.alpha={alpha}\n")
        (run_dir / "logs" / "stdout.log").write_text("".join(f"step {s} reward {0.1 * s:.2f}\n" for s in range(30)))
        (run_dir / "spec.resolved.toml").write_text(
            f'[experiment]\nname = "genrm-additive"\nkind = "genrm-train"\n\n[reward]\nform = "additive"\nalpha = {alpha}\n'
        )
        write_run(run_dir, run_id, alpha=alpha, steps=40, summary={"eval/judgebench/micro": 60.0 + 10 * alpha})
        if alpha == 0.8:
            write_run(run_dir, run_id + "-rm", alpha=alpha, steps=5, job_type="reward-server")
    return root


def make_records(root: Path, extra: int = 0) -> list[RunRecord]:
    records = []
    for i, alpha in enumerate(ALPHAS):
        run_id = f"genrm-additive-{i:08x}"
        run_dir = root / "genrm-additive" / run_id
        state = STATES[i]
        spec = {"experiment": {"name": "genrm-additive"}, "tracking": {"mode": "offline", "project": "rcstudio"}}
        records.append(
            RunRecord(
                run_id=run_id, name=f"genrm-additive-alpha{alpha:g}", experiment="genrm-additive",
                kind="genrm-train", engine="trl", executor="local", state=state,
                created_at=T0 + i, updated_at=T0 + i,
                started_at=None if state == "PENDING" else T0 + 10,
                ended_at=T0 + 130 + 60 * i if state in ("COMPLETED", "FAILED") else None,
                run_dir=str(run_dir), spec_hash=f"{i:08x}", point={"reward.alpha": alpha},
                tags=["paper"] if alpha in (0.0, 1.0) else ["ablation"],
                wandb=wandb_link(spec, run_dir, run_id),
            )
        )
    for j in range(extra):
        records.append(
            RunRecord(
                run_id=f"bulk-{j:08x}", name=f"bulk-{j}", experiment="bulk", kind="eval", engine="",
                executor="slurm", state="COMPLETED", created_at=T0 - j, updated_at=T0, started_at=T0 - 100,
                ended_at=T0, run_dir=str(root / "bulk" / str(j)), spec_hash=f"b{j}", point={}, tags=[],
                wandb={"mode": "disabled"},
            )
        )
    return records


@pytest.fixture
def registry(metric_runs) -> Registry:
    reg = Registry()
    reg.add_runs(make_records(metric_runs))
    return reg


@pytest.fixture
def fixed_now() -> float:
    return T0 + 200
