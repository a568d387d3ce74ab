"""`kind = "data"` jobs: `rcstudio run-job` calls `run_decompose_job(run_dir, spec)`.

The LLM is the one `[reward.matcher]` names (`endpoint`, `model`, `api_key_env`, `concurrency`,
`timeout_s`, `max_retries`): the decomposer and the matcher are the same kind of judge, and
`[decompose]` (`DecomposeSection`) holds only the data paths and item bounds. The checklist file goes to `decompose.output`
(default `<run_dir>/data/checklists.jsonl`), which training and eval specs then name by path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcstudio.errors import UserError
from rcstudio.rationale.decompose.outcome import Bounds, Summary

if TYPE_CHECKING:
    from rcstudio.clients.llm import LLMConfig
    from rcstudio.spec.models import Spec

DEFAULT_OUTPUT = "data/checklists.jsonl"
MAX_TOKENS = 2048


def llm_config_from_spec(spec: Spec) -> LLMConfig:
    """LLMConfig for decomposition, from `[reward.matcher]` (the only LLM section of a spec)."""
    from rcstudio.clients.llm import LLMConfig

    matcher = spec.reward.matcher
    if not matcher.endpoint:
        raise UserError(
            "a decompose job needs an OpenAI-compatible endpoint",
            key="reward.matcher.endpoint",
            hint="set reward.matcher.endpoint to the server's base URL, e.g. http://host:8000/v1 "
                 "([decompose] holds only input, output, min_items and max_items)",
        )
    return LLMConfig(
        base_url=matcher.endpoint,
        model=matcher.model,
        api_key_env=matcher.api_key_env,
        concurrency=int(matcher.concurrency),
        timeout_s=float(matcher.timeout_s),
        max_retries=int(matcher.max_retries),
        temperature=0.0,
        max_tokens=MAX_TOKENS,
    )


def resolve_paths(run_dir: Path, spec: Spec) -> tuple[Path, Path]:
    """Input and output of the job; a relative output lands in the run dir."""
    dec = spec.decompose
    if not dec.input:
        raise UserError("decompose.input is empty", key="decompose.input", hint="name the JSONL file with annotator reasoning")
    src = Path(dec.input).expanduser()
    out = Path(dec.output or DEFAULT_OUTPUT).expanduser()
    if not out.is_absolute():
        out = run_dir / out
    return src, out


def _log_wandb(run_dir: Path, spec: Spec, summary: Summary) -> None:
    """Counts and the items-per-pair histogram as a W&B run (mode from [tracking]; id = run dir name)."""
    from rcstudio.tracking.wandb_log import init_run

    d = summary.to_dict()
    metrics = {f"decompose/{k}": d[k] for k in ("total", "kept", "filtered", "failed", "llm_calls", "cache_hits")}
    if d["mean_items_kept"] is not None:
        metrics["decompose/mean_items_kept"] = d["mean_items_kept"]
    metrics.update({f"decompose/items_{k}": v for k, v in d["histogram"].items()})
    run = init_run(spec, run_dir, run_dir.name, job_type="decompose", name=run_dir.name)
    try:
        run.log(metrics, step=0)
        run.summary.update(metrics)
    finally:
        run.finish()


def run_decompose_job(run_dir: Path, spec: Spec, *, client: Any = None, progress: bool = True) -> dict[str, Any]:
    """Run the decomposition of a compiled `kind = "data"` run.

    Writes `results/decompose_summary.json` (returned) and `results/decompose_items_hist.png`, and
    logs the counts to W&B. Relative `decompose.output` paths land in the run dir.
    """
    from rcstudio.rationale.decompose.engine import decompose_file
    from rcstudio.rationale.decompose.plot import plot_histogram
    from rcstudio.rationale.decompose.store import rejected_path

    run_dir = Path(run_dir)
    src, out = resolve_paths(run_dir, spec)
    cfg = llm_config_from_spec(spec)
    bounds = Bounds(int(spec.decompose.min_items), int(spec.decompose.max_items))
    summary = decompose_file(src, out, cfg, bounds=bounds, progress=progress, client=client)
    results = run_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    payload = {"output": str(out), "rejected": str(rejected_path(out)), "input": str(src), "model": cfg.model,
               **summary.to_dict()}
    (results / "decompose_summary.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    plot_histogram(summary, results / "decompose_items_hist.png", min_items=bounds.min_items, max_items=bounds.max_items)
    _log_wandb(run_dir, spec, summary)
    return payload
