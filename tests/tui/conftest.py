"""A registry of four alpha-sweep runs with real offline W&B metrics, fixed times for snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcstudio.launch.registry import Registry, RunRecord
from rcstudio.tracking.synthetic import write_run
from rcstudio.spec.models import Spec
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
        spec = Spec.model_validate({"experiment": {"name": "genrm-additive", "kind": "eval"},
                                    "tracking": {"mode": "offline", "project": "rcstudio"}})
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


def _metric(mean: float, low: float, high: float, n: int = 40) -> dict:
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n}


# the quickstart's two judges as its eval job writes them (results/summary.json, trimmed)
QUICKSTART_JUDGES = {
    "evidence-judge": {"items": 40, "valid": 40, "oa": _metric(0.775, 0.65, 0.9), "rc": _metric(0.857708, 0.824, 0.889),
                       "precision": _metric(0.853021, 0.82, 0.886), "ap": _metric(0.862601, 0.828508, 0.89377),
                       "reward": _metric(0.666, 0.53, 0.79)},
    "surface-judge": {"items": 40, "valid": 40, "oa": _metric(0.775, 0.65, 0.9), "rc": _metric(0.221146, 0.183, 0.262),
                      "precision": _metric(0.20125, 0.17, 0.24), "ap": _metric(0.197995, 0.16, 0.24),
                      "reward": _metric(0.159, 0.11, 0.21)},
}


def add_eval_run(registry: Registry, root: Path) -> RunRecord:
    """A completed quickstart-like eval run: results/summary.json, a job log, W&B disabled."""
    import json

    run_id = "quickstart-1c24b59e"
    run_dir = root / "quickstart" / run_id
    (run_dir / "results").mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    metrics = {f"eval/hs3_atomic/{j}/{m}": v[m]["mean"] for j, v in QUICKSTART_JUDGES.items()
               for m in ("oa", "rc", "precision", "ap")}
    (run_dir / "results" / "summary.json").write_text(json.dumps(
        {"run_id": run_id, "benchmarks": {"hs3-atomic": QUICKSTART_JUDGES}, "metrics": metrics}))
    (run_dir / "results" / "rc_vs_oa.png").write_bytes(b"\x89PNG" + b"0" * 2000)
    (run_dir / "logs" / "run-job.log").write_text(
        f"2026-11-30 15:21:06,198 INFO run-job {run_id}: step eval -> rcstudio.evals.job.run_eval_job\n"
        f"2026-11-30 15:21:25,774 INFO run-job {run_id}: step eval done in 19.6 s\n")
    (run_dir / "spec.resolved.toml").write_text('[experiment]\nname = "quickstart"\nkind = "eval"\n')
    record = RunRecord(
        run_id=run_id, name="quickstart", experiment="quickstart", kind="eval", engine="", executor="local",
        state="COMPLETED", created_at=T0 + 10, updated_at=T0 + 40, started_at=T0 + 11, ended_at=T0 + 34,
        run_dir=str(run_dir), spec_hash="q1", point={}, tags=["quickstart"], wandb={"mode": "disabled"},
    )
    registry.add_runs([record])
    return record
